"""Infrastructure: the zone > pod > cluster > host tree with a detail pane and its actions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode
from virga.client import ApiError
from virga.tui import fmt, validate
from virga.tui.catalog.base import REGISTRY, Action, Field
from virga.tui.screens.base import PaletteEntry, VirgaScreen
from virga.tui.screens.confirm import ConfirmScreen
from virga.tui.screens.detail import fields_table
from virga.tui.screens.form import FormScreen
from virga.tui.widgets.resource_table import flatten

Node = tuple[str, dict[str, Any]]  # kind, item
LEVELS = [
    ("zone", "listZones", "zone", None),
    ("pod", "listPods", "pod", "zoneid"),
    ("cluster", "listClusters", "cluster", "podid"),
    ("host", "listHosts", "host", "clusterid"),
]

ADD = {
    "zone": Action(
        "n",
        "Add pod",
        "createPod",
        lambda i: {"zoneid": i["id"]},
        (
            Field("name", "Pod name", required=True, validate=validate.required),
            Field("gateway", "Gateway", required=True, validate=validate.ip, default="172.16.0.1"),
            Field("netmask", "Netmask", required=True, validate=validate.netmask, default="255.255.255.0"),
            Field("startip", "Start IP", required=True, validate=validate.ip, default="172.16.0.10"),
            Field("endip", "End IP", required=True, validate=validate.ip, default="172.16.0.200"),
        ),
    ),
    "pod": Action(
        "n",
        "Add cluster",
        "addCluster",
        lambda i: {"zoneid": i["zoneid"], "podid": i["id"], "clustertype": "CloudManaged"},
        (
            Field("clustername", "Cluster name", required=True, validate=validate.required),
            Field("hypervisor", "Hypervisor", default="Simulator", options=("Simulator", "KVM", "XenServer", "VMware")),
        ),
    ),
    "cluster": Action(
        "n",
        "Add host",
        "addHost",
        lambda i: {"zoneid": i["zoneid"], "podid": i["podid"], "clusterid": i["id"], "hypervisor": i["hypervisortype"]},
        (
            Field(
                "url",
                "Host URL",
                required=True,
                validate=validate.url,
                placeholder="simulator://host-9 or qemu+ssh://root@10.0.0.5/system",
            ),
            Field("username", "Username", default="root"),
            Field("password", "Password", password=True),
        ),
    ),
}


def node_label(kind: str, item: dict[str, Any]) -> Text:
    """A tree label: kind, name and a coloured state."""
    state = item.get("state") or item.get("allocationstate") or ""
    if kind == "host" and item.get("resourcestate") not in (None, "Enabled"):
        state = f"{state}/{item['resourcestate']}"
    text, style = fmt.state(str(state).split("/")[-1])
    return Text.assemble((f"{kind} ", "dim"), (str(item.get("name", "?")) + " ", "bold"), (str(state), style))


class InfraScreen(VirgaScreen):
    """The physical cloud as a tree; keys act on the selected node."""

    NAME = "infra"
    TITLE = "Infrastructure"
    BINDINGS = [
        Binding("n", "do('n')", "Add child"),
        Binding("e", "do('e')", "Enable"),
        Binding("D", "do('D')", "Disable"),
        Binding("m", "do('m')", "Maintenance"),
        Binding("M", "do('M')", "End maintenance"),
        Binding("x", "do('x')", "Delete"),
        Binding("z", "wizard", "Add zone"),
    ]
    DEFAULT_CSS = """
    InfraScreen Horizontal { height: 1fr; }
    InfraScreen Tree { width: 1fr; border: round $primary; }
    InfraScreen VerticalScroll { width: 1fr; border: round $primary; }
    """

    def __init__(self) -> None:
        """Start with an empty tree."""
        super().__init__()
        self.nodes: dict[str, TreeNode[Node]] = {}
        self.levels: list[list[dict[str, Any]] | None] = []
        self.filter_text, self.filter_invert = "", False

    def body(self) -> ComposeResult:
        """The tree and the detail pane."""
        with Horizontal():
            tree: Tree[Node] = Tree("cloud", id="tree")
            tree.show_root = False
            yield tree
            with VerticalScroll(id="detail-box"):
                yield Static("select a node", id="detail")

    def on_mount(self) -> None:
        """Load now and every few seconds."""
        self.sync_frame()
        self.query_one(Tree).focus()
        self.reload()
        self.poll(self.tui.refresh_interval * 2, self.reload)

    @work(exclusive=True, group="tree", exit_on_error=False)
    async def reload(self) -> None:
        """Read the four levels and update the tree in place."""
        self.levels = list(await asyncio.gather(*(self.api.items(cmd, item) for _, cmd, item, _ in LEVELS)))
        self.rebuild()

    def kept(self) -> set[str] | None:
        """The ids the `/` filter shows: matching nodes, their ancestors and descendants (None: no filter)."""
        needle = self.filter_text.lower()
        if not needle:
            return None
        parents: dict[str, str] = {}
        matched: set[str] = set()
        for (_, _, _, parent_field), items in zip(LEVELS, self.levels, strict=True):
            for item in items or []:
                if parent_field and item.get(parent_field):
                    parents[item["id"]] = item[parent_field]
                hit = needle in " ".join(flatten(item)).lower()
                if hit != self.filter_invert:
                    matched.add(item["id"])
        kept = set(matched)
        for uid in matched:
            while uid in parents:
                uid = parents[uid]
                kept.add(uid)
        for (_, _, _, parent_field), items in zip(LEVELS, self.levels, strict=True):
            for item in items or []:
                if parent_field and item.get(parent_field) in matched:
                    matched.add(item["id"])
                    kept.add(item["id"])
        return kept

    def rebuild(self) -> None:
        """Update the tree in place from the last read, through the filter."""
        tree: Tree[Node] = self.query_one(Tree)
        seen: set[str] = set()
        kept = self.kept()
        for (kind, _, _, parent_field), items in zip(LEVELS, self.levels, strict=True):
            for item in items or []:
                if kept is not None and item["id"] not in kept:
                    continue
                seen.add(item["id"])
                self.place(tree, kind, item, item.get(parent_field) if parent_field else None)
        gone = set(self.nodes) - seen
        for uid in gone:
            node = self.nodes[uid]
            parent = node.parent.data if node.parent is not None else None
            if parent is None or parent[1].get("id") not in gone:  # a removed parent takes its children along
                node.remove()
        for uid in gone:
            del self.nodes[uid]
        if tree.cursor_node is None and self.nodes:
            tree.cursor_line = 0
        self.show_detail()

    def place(self, tree: Tree[Node], kind: str, item: dict[str, Any], parent_id: str | None) -> None:
        """Add a node under its parent or update its label and data."""
        node = self.nodes.get(item["id"])
        if node is None:
            parent = self.nodes.get(parent_id or "", tree.root) if parent_id else tree.root
            node = parent.add(node_label(kind, item), data=(kind, item), expand=True, allow_expand=kind != "host")
            if kind == "host":
                node.allow_expand = False
            self.nodes[item["id"]] = node
        else:
            node.data = (kind, item)
            node.set_label(node_label(kind, item))

    def current_filter(self) -> str:
        """The tree's filter as typed after `/`."""
        return ("!" if self.filter_invert else "") + self.filter_text if self.filter_text else ""

    def apply_filter(self, text: str, invert: bool) -> None:
        """Show only the nodes matching text (with their ancestors and descendants)."""
        self.filter_text, self.filter_invert = text, invert
        self.rebuild()

    def selected(self) -> Node | None:
        """The kind and item under the tree cursor."""
        node = self.query_one(Tree).cursor_node
        return node.data if node is not None and node.data is not None else None

    def show_detail(self) -> None:
        """Show the selected node's fields."""
        sel = self.selected()
        detail = self.query_one("#detail", Static)
        detail.update(fields_table(sel[1]) if sel else "select a node")

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Node]) -> None:
        """Follow the cursor in the detail pane."""
        self.show_detail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only mode hides every action."""
        if action in ("do", "wizard"):
            return not self.tui.readonly
        return True

    def action_wizard(self) -> None:
        """Open the zone setup wizard."""
        self.tui.goto("wizard")

    def action_do(self, key: str) -> None:
        """Run the action bound to key for the selected node's kind."""
        sel = self.selected()
        if sel is None:
            self.notify("select a node first", severity="warning")
            return
        kind, item = sel
        act = ADD.get(kind) if key == "n" else next((a for a in REGISTRY[kind].actions if a.key == key), None)
        if act is None:
            self.notify(f"nothing bound to {key} for a {kind}", severity="warning")
            return
        self.run(act, item)

    @work(exit_on_error=False)
    async def run(self, act: Action, item: dict[str, Any]) -> None:
        """Form (open until the call succeeds, errors beside their field), confirmation, call, reload."""
        label = f"{act.label} {item.get('name', '')}"
        if act.fields:

            async def run(values: dict[str, Any]) -> str | None:
                """The call; its error text for the form."""
                errors: list[ApiError] = []
                await self.api.act(act.command, label, errors=errors, **{**act.args(item), **values})
                self.reload()
                return f"{errors[0].text} (error {errors[0].code})" if errors else None

            await self.app.push_screen_wait(FormScreen(f"{act.label} ({act.command})", act.fields, run=run, item=item))
            return
        if act.confirm and not await self.app.push_screen_wait(
            ConfirmScreen(f"{act.label} {item.get('name', item.get('id'))}?")
        ):
            return
        await self.api.act(act.command, label, **act.args(item))
        self.reload()

    def palette(self) -> Iterable[PaletteEntry]:
        """The tree's actions."""
        if self.tui.readonly:
            return
        for key, label in (
            ("n", "Add child"),
            ("e", "Enable"),
            ("D", "Disable"),
            ("m", "Maintenance"),
            ("M", "End maintenance"),
            ("x", "Delete"),
        ):
            yield (f"Infrastructure: {label}", f"key {key} · on the selected node", partial(self.action_do, key))
