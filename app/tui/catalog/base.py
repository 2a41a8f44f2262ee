"""The catalog's data types: resources, their columns, actions and form fields (pure data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from virga.tui import fmt
from virga.tui.widgets.resource_table import Cell, Column

Validator = Callable[[str], str | None]


@dataclass(frozen=True)
class Choice:
    """Options of a form field, read from a list command: value field and label field."""

    command: str
    item: str
    value: str = "id"
    label: str = "name"
    params: dict[str, Any] = field(default_factory=dict)
    # narrowing by what is already chosen: list parameter -> "item.<field>" (the object acted on),
    # "<form field>" (its value) or "<form field>.<field>" (a field of the object chosen there)
    where: dict[str, str] = field(default_factory=dict)

    def depends_on(self) -> set[str]:
        """The form fields whose choice narrows this list."""
        return {src.split(".")[0] for src in self.where.values() if not src.startswith("item.")}


@dataclass(frozen=True)
class DefaultFrom:
    """A field's value follows another field: read `command` filtered by param=<source's value>, take attr."""

    source: str
    command: str
    item: str
    param: str
    attr: str


@dataclass(frozen=True)
class Field:
    """One input of an action's form."""

    name: str
    label: str
    default: str = ""
    required: bool = False
    choice: Choice | None = None
    options: tuple[str, ...] = ()
    validate: Validator | None = None
    password: bool = False
    placeholder: str = ""
    default_from: DefaultFrom | None = None


@dataclass(frozen=True)
class Action:
    """Something the user can do from a resource screen: one API command."""

    key: str
    label: str
    command: str
    args: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: {"id": item["id"]}
    fields: tuple[Field, ...] = ()
    confirm: bool = False
    mutating: bool = True
    needs_item: bool = True
    context: tuple[str, ...] = ()  # list filters of the screen passed on (e.g. the LB rule of its members)

    @property
    def name(self) -> str:
        """The action's id (used in binding actions)."""
        return self.command


@dataclass(frozen=True)
class Resource:
    """A kind of API object with its list command, columns and actions."""

    name: str
    title: str
    command: str
    item: str
    columns: Callable[[fmt.Clock], list[Column]]
    aliases: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    params: dict[str, Any] = field(default_factory=lambda: {"listall": True})
    key: str = "id"


REGISTRY: dict[str, Resource] = {}


def register(*resources: Resource) -> None:
    """Add resources to the catalog."""
    for res in resources:
        REGISTRY[res.name] = res


def lookup(word: str) -> Resource | None:
    """Find a resource by name, alias or unambiguous prefix (':vm', ':host', ':vol'...)."""
    word = word.strip().lower()
    for res in REGISTRY.values():
        if word == res.name or word in res.aliases:
            return res
    hits = [r for r in REGISTRY.values() if r.name.startswith(word) or r.title.lower().startswith(word)]
    return hits[0] if len(hits) == 1 else None


def col(name: str, title: str, width: int) -> Column:
    """A plain field column."""
    return Column(title, width, lambda item: (str(item.get(name, "")), ""))


def state_col(name: str = "state", title: str = "STATE", width: int = 11) -> Column:
    """A state column in colour."""
    return Column(title, width, lambda item: fmt.state(item.get(name)))


def age_col(clock: fmt.Clock, name: str = "created") -> Column:
    """An age column from a date field."""

    def render(item: dict[str, Any]) -> Cell:
        """The item's age."""
        return fmt.age(item.get(name), clock()), "dim"

    def created(item: dict[str, Any]) -> str:
        """The date the age is counted from (sorting by AGE puts the newest first)."""
        return "~" + "".join(chr(0x10FFFF - ord(ch)) for ch in str(item.get(name) or ""))

    return Column("AGE", 5, render, live=True, sort=created)


def size_col(name: str, title: str, width: int = 10) -> Column:
    """A byte-size column."""
    return Column(title, width, lambda item: (fmt.size(item.get(name)), ""), sort=lambda item: item.get(name) or 0)


def id_only(item: dict[str, Any]) -> dict[str, Any]:
    """The usual argument: the item's id."""
    return {"id": item["id"]}


def nothing(item: dict[str, Any]) -> dict[str, Any]:
    """No argument from the item (creation actions)."""
    return {}


def delete(command: str, label: str = "Delete", key: str = "x") -> Action:
    """A confirmed delete action."""
    return Action(key, label, command, id_only, confirm=True)
