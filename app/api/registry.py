"""The command registry: one definition per command feeds dispatch, validation, listApis and docs."""

from __future__ import annotations

import importlib
import logging
import re
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from virga.api.validation import check_map_entry, check_text, whole_number
from virga.context import ADMIN, ADMINS, ALL_ROLES, DOMAIN_ADMIN, ROOT, USER, Args
from virga.errors import InvalidParameter

__all__ = ["ADMIN", "ADMINS", "ALL_ROLES", "DOMAIN_ADMIN", "ROOT", "USER", "Args"]


log = logging.getLogger("virga.api")
_MAP_KEY = re.compile(r"^([a-zA-Z0-9_]+)\[(\d+)\]\.([a-zA-Z0-9_]+)$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class Param:
    """One request parameter: name, type, whether required, and its description."""

    name: str
    type: str = "string"
    required: bool = False
    description: str = ""
    length: int = 255

    def parse(self, raw: Any) -> Any:
        """Convert a raw request value to this parameter's type, or raise 431 naming it."""
        try:
            return _PARSERS[self.type](raw, self)
        except InvalidParameter:
            raise
        except (ValueError, TypeError) as exc:
            raise InvalidParameter(f"Unable to parse parameter {self.name}: {exc}") from None


def _string(raw: Any, p: Param) -> str:
    """A string no longer than the parameter's length."""
    text = str(raw)
    if len(text) > p.length and p.length > 0:
        raise InvalidParameter(f"Parameter {p.name} is longer than {p.length} characters")
    return check_text(p.name, text)


def _uuid_value(raw: Any, p: Param) -> str:
    """A UUID in canonical form."""
    try:
        return str(_uuid.UUID(str(raw).strip()))
    except ValueError:
        raise InvalidParameter(f"Invalid uuid {raw!r} given for parameter {p.name}") from None


def _integer(raw: Any, p: Param) -> int:
    """A whole number within the parameter's Java type (int, long or short)."""
    return whole_number(raw, p.type, p.name)


def _boolean(raw: Any, p: Param) -> bool:
    """true/false."""
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidParameter(f"Unable to parse parameter {p.name}: {raw!r} is not true or false")


def _list(raw: Any, p: Param) -> list[str]:
    """A comma-separated list."""
    if isinstance(raw, list):
        return [check_text(p.name, str(x)) for x in raw]
    return [check_text(p.name, x.strip()) for x in str(raw).split(",") if x.strip()]


def _uuid_list(raw: Any, p: Param) -> list[str]:
    """A comma-separated list of UUIDs."""
    return [_uuid_value(x, p) for x in _list(raw, p)]


def _map(raw: Any, p: Param) -> list[dict[str, str]]:
    """A CloudStack map (name[0].key=value ...), already grouped by the parser."""
    if isinstance(raw, list):
        return raw
    raise InvalidParameter(f"Parameter {p.name} must be given as {p.name}[0].key=value")


def _date(raw: Any, p: Param) -> datetime:
    """A date or date-time."""
    text = str(raw).strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise InvalidParameter(f"Unable to parse parameter {p.name}: {raw!r} is not a date (yyyy-MM-dd)")


_PARSERS: dict[str, Callable[[Any, Param], Any]] = {
    "string": _string,
    "uuid": _uuid_value,
    "integer": _integer,
    "long": _integer,
    "short": _integer,
    "boolean": _boolean,
    "list": _list,
    "uuidlist": _uuid_list,
    "map": _map,
    "date": _date,
}


@dataclass
class Command:
    """A command: its handler, parameters, response and who may call it."""

    name: str
    handler: Callable[..., Any]
    params: tuple[Param, ...]
    description: str
    response: str
    is_async: bool = False
    roles: frozenset[str] = ALL_ROLES
    since: str = "4.0.0"
    auth: bool = True
    by_name: dict[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Index the parameters by lowercased name."""
        self.by_name = {p.name.lower(): p for p in self.params}


COMMAND_ATTR = "__virga_command__"


# Parameters every command accepts (transport, auth, paging).
COMMON = frozenset(
    {
        "command",
        "response",
        "apikey",
        "signature",
        "signatureversion",
        "expires",
        "sessionkey",
        "_",
        "projectid",
    }
)
PAGING = (
    Param("keyword", description="List by keyword"),
    Param("page", "integer", description="Page number (1-based), with pagesize"),
    Param("pagesize", "integer", description="Items per page; -1 for all"),
    Param("listall", "boolean", description="true to list everything the caller may see"),
)


def api(
    name: str,
    description: str,
    response: str,
    params: list[Param] | tuple[Param, ...] = (),
    *,
    is_async: bool = False,
    roles: frozenset[str] = ALL_ROLES,
    auth: bool = True,
    paged: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a handler as an API command (recorded on the function; `load` collects it)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        all_params = tuple(params) + (PAGING if paged else ())
        setattr(fn, COMMAND_ATTR, Command(name, fn, all_params, description, response, is_async, roles, auth=auth))
        return fn

    return deco


def command_of(fn: Callable[..., Any]) -> Command:
    """The command a handler declares."""
    cmd: Command = getattr(fn, COMMAND_ATTR)
    return cmd


class Registry:
    """Every command, collected once from the modules `virga.api.commands.MODULES` lists."""

    def __init__(self) -> None:
        """Nothing is loaded until first use."""
        self.by_name: dict[str, Command] = {}
        self._lower: dict[str, str] = {}

    def load(self, modules: tuple[str, ...]) -> None:
        """Import each module and collect the commands its functions declare (a name declared twice is an error)."""
        found: dict[str, Command] = {}
        for name in modules:
            for obj in vars(importlib.import_module(name)).values():
                cmd = getattr(obj, COMMAND_ATTR, None)
                if isinstance(cmd, Command):
                    if cmd.name in found and found[cmd.name] is not cmd:
                        raise RuntimeError(f"command {cmd.name} is declared twice ({name})")
                    found[cmd.name] = cmd
        self.by_name = dict(sorted(found.items()))
        self._lower = {n.lower(): n for n in self.by_name}

    def commands(self) -> dict[str, Command]:
        """All commands by name (loaded on first use)."""
        if not self.by_name:
            from virga.api.commands import MODULES

            self.load(MODULES)
        return self.by_name

    def lookup(self, name: str) -> Command | None:
        """Find a command by name, case-insensitively."""
        self.commands()
        real = self._lower.get(name.lower())
        return self.by_name.get(real) if real else None


REGISTRY = Registry()


def commands() -> dict[str, Command]:
    """Every command by name."""
    return REGISTRY.commands()


def lookup(name: str) -> Command | None:
    """Find a command by name, case-insensitively."""
    return REGISTRY.lookup(name)


def parse_args(cmd: Command, raw: dict[str, str]) -> Args:
    """Validate and convert raw request parameters against a command's definition (unknown ones are ignored)."""
    grouped: dict[str, dict[int, dict[str, str]]] = {}
    plain: dict[str, str] = {}
    ignored: list[str] = []
    for key, value in raw.items():
        m = _MAP_KEY.match(key)
        if m is None:
            plain[key.lower()] = value
            continue
        p = cmd.by_name.get(m.group(1).lower())
        if p is None or p.type != "map":
            ignored.append(key)
            continue
        check_map_entry(m.group(1).lower(), m.group(3), value)
        grouped.setdefault(m.group(1).lower(), {}).setdefault(int(m.group(2)), {})[m.group(3).lower()] = value
    args = Args()
    for key, value in plain.items():
        if key in COMMON:
            continue
        p = cmd.by_name.get(key)
        if p is None:
            ignored.append(key)
            continue
        args[key] = p.parse(value)
    for key, items in grouped.items():
        args[key] = [items[i] for i in sorted(items)]
    if ignored:
        log.debug("%s: ignoring unknown parameters %s", cmd.name, ", ".join(sorted(ignored)))
    for p in cmd.params:
        if p.required and args.get(p.name.lower()) in (None, ""):
            raise InvalidParameter(f"Missing parameter {p.name.lower()} for command {cmd.name}")
    _check_paging(args)
    return args


def _check_paging(args: Args) -> None:
    """page and pagesize come together; pagesize is -1 or positive; page is positive."""
    page, size = args.get("page"), args.get("pagesize")
    if page is not None and size is None:
        raise InvalidParameter("Parameter pagesize is required when page is given")
    if page is not None and page < 1:
        raise InvalidParameter("Parameter page must be 1 or more")
    if size is not None and size != -1 and size < 1:
        raise InvalidParameter("Parameter pagesize must be -1 or a positive number")
