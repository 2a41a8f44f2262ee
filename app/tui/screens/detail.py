"""Enter on a row: the object's fields, its actions and its related objects, each one key away."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static
from virga.tui.catalog.base import REGISTRY, Resource
from virga.tui.screens.resource import ActionScreen, label_of


def fields_table(item: dict[str, Any]) -> Table:
    """Two columns: field and value (nested values as compact JSON)."""
    table = Table(box=None, show_header=False, expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, value in item.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, escape(shown))
    return table


@dataclass(frozen=True)
class Related:
    """Objects related to an item: a resource listed with filters taken from the item's fields."""

    resource: str
    where: dict[str, str]  # list parameter -> the item's field
    label: str = ""

    def params(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """The list filters for this item (None when the item lacks a field they need)."""
        out = {param: item.get(src) for param, src in self.where.items()}
        return None if any(v in (None, "") for v in out.values()) else out

    @property
    def title(self) -> str:
        """What the panel calls them."""
        return self.label or REGISTRY[self.resource].title


RELATED: dict[str, tuple[Related, ...]] = {
    "zone": (
        Related("pod", {"zoneid": "id"}),
        Related("host", {"zoneid": "id"}),
        Related("net", {"zoneid": "id"}),
        Related("vm", {"zoneid": "id"}),
    ),
    "pod": (Related("cluster", {"podid": "id"}), Related("host", {"podid": "id"})),
    "cluster": (Related("host", {"clusterid": "id"}),),
    "host": (Related("vm", {"hostid": "id"}),),
    "net": (
        Related("router", {"networkid": "id"}),
        Related("vm", {"networkid": "id"}),
        Related("ip", {"associatednetworkid": "id"}),
    ),
    "ip": (
        Related("fw", {"ipaddressid": "id"}),
        Related("pf", {"ipaddressid": "id"}),
        Related("lb", {"publicipid": "id"}),
    ),
    "lb": (Related("lbvm", {"id": "id"}), Related("ip", {"id": "publicipid"}, "Public IP")),
    "pf": (Related("vm", {"id": "virtualmachineid"}, "VM"), Related("ip", {"id": "ipaddressid"}, "Public IP")),
    "fw": (Related("ip", {"id": "ipaddressid"}, "Public IP"),),
    "router": (Related("net", {"id": "guestnetworkid"}, "Network"),),
    "vm": (Related("vol", {"virtualmachineid": "id"}), Related("host", {"id": "hostid"}, "Host")),
    "vol": (Related("snap", {"volumeid": "id"}),),
    "acct": (
        Related("vm", {"account": "name", "domainid": "domainid"}),
        Related("user", {"account": "name", "domainid": "domainid"}),
    ),
    "tmpl": (Related("vm", {"templateid": "id"}),),
    "lbvm": (Related("vol", {"virtualmachineid": "id"}),),
}
UNPAGED = {"listLoadBalancerRuleInstances"}


class ObjectScreen(ActionScreen):
    """One object: its fields on the left; its actions and related objects (keys 1-9) on the right."""

    NAME = "detail"
    FILTERABLE = False
    DEFAULT_CSS = """
    ObjectScreen #obj { height: 1fr; }
    ObjectScreen #fields { width: 3fr; border: round $primary; padding: 0 1; }
    ObjectScreen #side { width: 2fr; min-width: 26; border: round $primary; padding: 0 1; }
    """

    def __init__(self, resource: Resource, item: dict[str, Any]) -> None:
        """Show item, an object of resource."""
        super().__init__()
        self.resource, self.item = resource, item
        self.heading = f"{resource.title}: {label_of(item)}"
        self.related = tuple(r for r in RELATED.get(resource.name, ()) if r.resource in REGISTRY)
        self.counts: dict[int, int | None] = {}
        self.running: dict[str, int] = {}
        self.gone = False

    def body(self) -> ComposeResult:
        """Fields and the side panel."""
        with Horizontal(id="obj"):
            with VerticalScroll(id="fields") as box:
                box.border_title = self.heading
                yield Static(fields_table(self.item), id="detail")
            with VerticalScroll(id="side") as side:
                side.border_title = "Related · actions"
                yield Static(self.side_text(), id="related")

    def on_mount(self) -> None:
        """Count the related objects; re-read the object every few seconds."""
        self.sync_frame()
        self.query_one("#fields").focus()
        self.reload()
        self.poll(self.tui.refresh_interval * 2, self.reload)

    def side_text(self) -> Text:
        """The related objects with their keys and counts, then the object's actions with theirs (pure-ish)."""
        out = Text()
        for i, rel in enumerate(self.related, start=1):
            n = self.counts.get(i - 1)
            out.append(f" {i} ", style="bold reverse")
            out.append(f" {rel.title}")
            out.append(f"  {'…' if n is None else n}\n", style="dim")
        if not self.related:
            out.append("no related objects\n", style="dim")
        acts = [a for a in self.actions() if a.needs_item and not (a.mutating and self.tui.readonly)]
        if acts:
            out.append("\n")
        for act in acts:
            out.append(f" {act.key} ", style="bold reverse")
            out.append(f" {act.label}\n")
        out.append("\n y ", style="bold reverse")
        out.append(" copy id   ")
        out.append(" esc ", style="bold reverse")
        out.append(" back\n")
        if self.running:
            out.append("\n" + " · ".join(f"{k} {v}%" for k, v in self.running.items()), style="yellow")
        if self.gone:
            out.append("\nthis object is gone", style="bold red")
        return out

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def reload(self) -> None:
        """Re-read the object and count its related objects."""
        res = self.resource
        if res.key in self.item and res.key == "id":
            got = await self.api.items(res.command, res.item, **{**res.params, "id": self.item["id"]})
            if got is not None:
                self.gone = not got
                if got:
                    self.item = got[0]
                    self.query_one("#detail", Static).update(fields_table(self.item))
        for i, rel in enumerate(self.related):
            params = rel.params(self.item)
            if params is None:
                self.counts[i] = 0
                continue
            child = REGISTRY[rel.resource]
            paging = {} if child.command in UNPAGED else {"page": 1, "pagesize": 1}
            body = await self.api.fetch(child.command, **{**child.params, **params, **paging})
            self.counts[i] = None if body is None else int(body.get("count", len(body.get(child.item, []))))
        self.update_status()

    def update_status(self) -> None:
        """Redraw the side panel (counts, running actions)."""
        if self.is_mounted:
            self.query_one("#related", Static).update(self.side_text())

    def targets(self) -> list[dict[str, Any]]:
        """The object itself."""
        return [self.item]

    def after_action(self) -> None:
        """Read the object again."""
        self.reload()

    def action_related(self, index: int) -> None:
        """Open the index-th related list, one breadcrumb deeper."""
        if index >= len(self.related):
            return
        rel = self.related[index]
        params = rel.params(self.item)
        if params is None:
            self.notify(f"no {rel.title.lower()} for {label_of(self.item)}", severity="warning")
            return
        self.tui.open_resource(rel.resource, params, label_of(self.item))

    def action_copy(self) -> None:
        """`y`: copy the object's id."""
        value = str(self.item.get(self.resource.key, ""))
        self.app.copy_to_clipboard(value)
        self.notify(f"copied {self.resource.key} {value}", timeout=3)


def object_screen_class(resource: Resource) -> type[ObjectScreen]:
    """An ObjectScreen subclass with the resource's item actions and the related keys bound."""
    bindings = [Binding(a.key, f"act({i})", a.label) for i, a in enumerate(resource.actions) if a.needs_item]
    related = RELATED.get(resource.name, ())
    bindings += [
        Binding(str(i), f"related({i - 1})", rel.title if rel.resource in REGISTRY else "", show=False)
        for i, rel in enumerate(related, start=1)
    ]
    bindings.append(Binding("y", "copy", "Copy id", show=False))
    return type(
        f"{resource.title.replace(' ', '')}DetailScreen",
        (ObjectScreen,),
        {"BINDINGS": bindings, "__module__": __name__},
    )
