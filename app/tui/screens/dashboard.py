"""The dashboard: capacity per zone, counts, running jobs, latest events and alerts."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Static
from virga.tui import fmt
from virga.tui.screens.base import VirgaScreen
from virga.tui.widgets.capacity import CapacityBars
from virga.tui.widgets.resource_table import flatten

Count = tuple[str, str, dict[str, Any]]  # label, list command, its filters
COUNTS: list[Count] = [
    ("Zones", "listZones", {}),
    ("Hosts", "listHosts", {"type": "Routing"}),
    ("VMs", "listVirtualMachines", {"listall": True}),
    ("Running", "listVirtualMachines", {"listall": True, "state": "Running"}),
    ("Networks", "listNetworks", {"listall": True}),
    ("Volumes", "listVolumes", {"listall": True}),
    ("Public IPs", "listPublicIpAddresses", {"listall": True, "allocatedonly": True}),
]


def render_counts(counts: list[tuple[str, int | None]]) -> Table:
    """Counts as a two-column table ('-' when the command is not available)."""
    table = Table(box=None, show_header=False, expand=True)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, n in counts:
        table.add_row(name, "-" if n is None else str(n))
    return table


def render_lines(
    items: list[dict[str, Any]] | None, fields: list[str], empty: str, clock: fmt.Clock, when: str = "created"
) -> Text:
    """A short log: age and some fields per item (pure)."""
    if items is None:
        return Text("not available", style="dim")
    if not items:
        return Text(empty, style="dim")
    out = Text()
    for item in items:
        out.append(f"{fmt.age(item.get(when), clock()):>4} ", style="dim")
        level = str(item.get("level", ""))
        out.append(" ".join(str(item.get(f, "")) for f in fields) + "\n", style="red" if level == "ERROR" else "")
    return out


def render_failed(jobs: list[dict[str, Any]], clock: fmt.Clock) -> Text:
    """Failed jobs with their error text (pure)."""
    out = Text()
    for job in jobs:
        result = job.get("jobresult") or {}
        error = result.get("errortext") if isinstance(result, dict) else str(result)
        out.append(f"{fmt.age(job.get('created'), clock()):>4} ", style="dim")
        out.append(f"{job.get('cmd', '?')} ", style="bold red")
        out.append(f"{error or 'failed'}", style="red")
        out.append(
            f"  ({job.get('jobinstancetype') or ''} {job.get('jobinstanceid') or ''})\n".replace(" )", ")"), style="dim"
        )
    return out


class DashboardScreen(VirgaScreen):
    """The home screen; refreshes itself."""

    NAME = "dashboard"
    TITLE = "Dashboard"
    DEFAULT_CSS = """
    DashboardScreen Grid { grid-size: 2; grid-columns: 3fr 2fr; grid-rows: auto auto auto; height: 1fr; }
    DashboardScreen #failed { column-span: 2; }
    DashboardScreen #failed.none { display: none; }
    DashboardScreen Grid > Static { border: round $primary; border-title-color: $accent; height: auto;
                                    max-height: 100%; padding: 0 1; }
    """

    def body(self) -> ComposeResult:
        """Four panels."""
        with Grid():
            for wid, title, cls in (
                ("capacity", "Capacity", CapacityBars),
                ("counts", "Counts", Static),
                ("events", "Latest events", Static),
                ("jobs", "Running jobs · alerts", Static),
                ("failed", "Failed jobs · a acknowledges", Static),
            ):
                panel = cls("loading…", id=wid)
                panel.border_title = title
                yield panel

    BINDINGS = [Binding("a", "ack", "Ack failed jobs")]
    filter_text = ""
    filter_invert = False
    failed: list[dict[str, Any]] = []  # noqa: RUF012 - the failed jobs shown (set per instance on reload)

    def action_ack(self) -> None:
        """Acknowledge the failed jobs shown: they leave the panel (for the rest of the session)."""
        self.tui.acked_jobs.update(str(j.get("jobid")) for j in self.failed)
        self.show_failed([])

    def current_filter(self) -> str:
        """The filter of the event, job and alert lists, as typed after `/`."""
        return ("!" if self.filter_invert else "") + self.filter_text if self.filter_text else ""

    def apply_filter(self, text: str, invert: bool) -> None:
        """Filter the event, job and alert lists (every field, ids too)."""
        self.filter_text, self.filter_invert = text.lower(), invert
        self.reload()

    def only(self, items: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The items passing the filter."""
        if items is None or not self.filter_text:
            return items
        return [i for i in items if (self.filter_text in " ".join(flatten(i)).lower()) != self.filter_invert]

    def show_failed(self, jobs: list[dict[str, Any]]) -> None:
        """The failed-jobs panel (hidden when there is none to acknowledge)."""
        self.failed = jobs
        panel = self.query_one("#failed", Static)
        panel.set_class(not jobs, "none")
        panel.update(render_failed(jobs[:6], self.tui.clock))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`a` only while failed jobs are shown."""
        return bool(self.failed) if action == "ack" else True

    def on_mount(self) -> None:
        """Load now and every few seconds."""
        self.sync_frame()
        self.reload()
        self.poll(self.tui.refresh_interval * 2, self.reload)

    @work(exclusive=True, group="dash", exit_on_error=False)
    async def reload(self) -> None:
        """Read every panel's data."""
        caps = await self.api.items("listCapacity", "capacity")
        self.query_one("#capacity", CapacityBars).show(caps)
        counts: list[tuple[str, int | None]] = []
        for name, cmd, params in COUNTS:
            body = await self.api.fetch(cmd, page=1, pagesize=1, **params)
            counts.append((name, None if body is None else int(body.get("count", 0))))
        self.query_one("#counts", Static).update(render_counts(counts))
        events = self.only(await self.api.items("listEvents", "event", listall=True, page=1, pagesize=40))
        events = None if events is None else events[:8]
        self.query_one("#events", Static).update(
            render_lines(events, ["type", "description"], "no events yet", self.tui.clock)
        )
        jobs = await self.api.items("listAsyncJobs", "asyncjobs", listall=True)
        jobs = self.only(jobs)
        self.show_failed(
            [j for j in jobs or [] if j.get("jobstatus") == 2 and j.get("jobid") not in self.tui.acked_jobs]
        )
        running = None if jobs is None else [j for j in jobs if j.get("jobstatus") == 0][:6]
        alerts = self.only(await self.api.items("listAlerts", "alert", page=1, pagesize=20))
        alerts = None if alerts is None else alerts[:4]
        text = render_lines(running, ["cmd", "jobprocstatus"], "no job running", self.tui.clock)
        text.append("\n")
        text.append(render_lines(alerts, ["name", "description"], "no alerts", self.tui.clock, "sent"))
        self.query_one("#jobs", Static).update(text)
