"""The zone setup wizard: kind -> zone -> network/public IPs -> pod -> cluster -> hosts -> storage -> launch."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, ProgressBar, Static
from virga.tui import validate
from virga.tui.api import cli_line
from virga.tui.catalog.base import Field
from virga.tui.screens.base import VirgaScreen
from virga.tui.widgets.field_form import FieldForm
from virga.tui.wizard_local import failure_text, local_steps
from virga.tui.wizard_steps import KINDS, Progress, Step, check_pod_against, kind_options, steps_for


def review_line(step: str, v: dict[str, str]) -> str:
    """One step's settings in a line of the review (pure; passwords never shown)."""
    if step == "network":
        vlan = v.get("vlan") or "untagged"
        return f"{v.get('physnet')} · public {v.get('startip')}-{v.get('endip')} gw {v.get('gateway')} · VLAN {vlan}"
    if step == "pod":
        return f"{v.get('name')} · reserved {v.get('startip')}-{v.get('endip')} gw {v.get('gateway')}"
    return " · ".join(f"{k} {val}" for k, val in v.items() if val and "password" not in k)


def kind_step(embedded: bool) -> Step:
    """The first page: what to build."""
    opts = kind_options(embedded)
    return Step(
        "kind",
        "What to build",
        (Field("kind", "Kind", "sandbox", True, options=opts),),
        lambda v, s: [],
        help="\n".join(f"{k}: {KINDS[k].label}" for k in opts),
    )


class WizardScreen(VirgaScreen):
    """One page per step; each step's API calls run with their progress; a failure stays on its step."""

    NAME = "wizard"
    TITLE = "Add zone"
    FILTERABLE = False
    BINDINGS = [Binding("ctrl+n", "next", "Run step"), Binding("ctrl+b", "back_step", "Previous step")]
    DEFAULT_CSS = """
    WizardScreen #wiz { height: 1fr; }
    WizardScreen #steps { width: 30; border: round $primary; padding: 0 1; }
    WizardScreen #page { width: 1fr; border: round $primary; padding: 0 1; }
    WizardScreen #form-box { height: auto; }
    WizardScreen #error { color: $error; height: auto; width: 1fr; }
    WizardScreen #log { height: auto; color: $text-muted; }
    WizardScreen #buttons { height: auto; align-horizontal: right; }
    WizardScreen Button { margin-left: 1; }
    """

    def __init__(self) -> None:
        """Start at the first page."""
        super().__init__()
        self.steps: list[Step] = []
        self.index = 0
        self.progress = Progress()
        self.saved: dict[str, dict[str, str]] = {}
        self.busy = False

    def body(self) -> ComposeResult:
        """Step list on the left, the current page on the right."""
        with Horizontal(id="wiz"):
            yield Static(id="steps")
            with VerticalScroll(id="page") as page:
                page.can_focus = False  # Tab goes from field to field, not to the page
                yield Label("", id="step-title")
                yield Static("", id="step-help")
                yield Vertical(id="form-box")
                yield Label("", id="error")
                yield ProgressBar(total=100, show_eta=False, id="bar")
                yield Static("", id="log")
                with Horizontal(id="buttons"):
                    yield Button("Back", id="back", compact=True)
                    yield Button("Next", id="next", variant="primary", compact=True)

    def on_mount(self) -> None:
        """Show the first page."""
        self.sync_frame()
        self.steps = [kind_step(self.tui.profile == "embedded")]
        self.show_step()

    @property
    def step(self) -> Step:
        """The current step."""
        return self.steps[self.index]

    def render_steps(self) -> Text:
        """The step list with marks: done, current, failed (pure)."""
        out = Text()
        names = [s.title for s in self.steps] if len(self.steps) > 1 else ["What to build", "Zone", "…"]
        for i, title in enumerate(names):
            step = self.steps[i] if i < len(self.steps) else None
            name = step.name if step else ""
            mark, style = ("✓ ", "green") if name in self.progress.done else ("  ", "")
            if name and name == self.progress.failed:
                mark, style = ("✗ ", "bold red")
            if i == self.index and name not in self.progress.done:
                mark, style = ("▶ " if name != self.progress.failed else "✗ ", style or "bold")
            elif i == self.index:
                style = "bold green"
            out.append(mark + title + "\n", style=style)
        return out

    def show_step(self) -> None:
        """Render the current page."""
        step = self.step
        self.query_one("#steps", Static).update(self.render_steps())
        self.query_one("#step-title", Label).update(f"[b]Step {self.index + 1}: {step.title}[/b]")
        self.query_one("#step-help", Static).update(step.help)
        box = self.query_one("#form-box", Vertical)
        box.remove_children()
        box.mount(FieldForm(step.fields, self.saved.get(step.name), autofocus=True, id=f"form-{step.name}"))
        if not step.fields:
            self.query_one("#next", Button).focus()
        self.query_one("#next", Button).label = (
            "Launch" if self.final else ("Next" if step.name == "kind" else "Run step")
        )
        self.query_one("#back", Button).disabled = self.index == 0
        self.query_one("#log", Static).update(self.summary() if step.name == "launch" else "")
        self.query_one("#bar", ProgressBar).update(progress=0)
        self.query_one("#page", VerticalScroll).scroll_home(animate=False)

    def summary(self) -> Text:
        """The review: every step's settings (ranges as ranges, not ids), then what was created."""
        out = Text("Review\n", style="bold")
        for step in self.steps[1:]:
            values = self.saved.get(step.name)
            if not values or step.name == "launch":
                continue
            mark = "✓" if step.name in self.progress.done else "·"
            out.append(f" {mark} {step.title}: ", style="green" if mark == "✓" else "")
            out.append(review_line(step.name, values) + "\n")
        created = self.progress.state.get("created", [])
        if created:
            out.append("Created\n", style="bold")
        for line in created:
            out.append(f"  ✓ {line}\n", style="green")
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Back and Next/Run."""
        if event.button.id == "next":
            self.action_next()
        elif event.button.id == "back":
            self.action_back_step()

    def action_back_step(self) -> None:
        """Go to the previous page (its values are kept)."""
        if self.index > 0 and not self.busy:
            self.index -= 1
            self.show_step()

    def action_next(self) -> None:
        """Validate the page and run its calls."""
        if self.busy:
            return
        form = self.query_one(FieldForm)
        values = form.validate_all()
        err = None if values is None else self.step.check(values)
        self.query_one("#error", Label).update(err or ("fix the fields above" if values is None else ""))
        if values is None or err:
            return
        if self.step.name == "pod" and (err := check_pod_against(self.saved.get("network", {}))(values)):
            self.query_one("#error", Label).update(err)
            return
        self.saved[self.step.name] = values
        if self.step.name == "kind":
            kind = values["kind"]
            self.steps = [self.steps[0], *(local_steps() if kind == "kvm" else steps_for(KINDS[kind]))]
            self.progress.done.add("kind")
            self.index = 1
            self.show_step()
            return
        if self.step.task is not None:
            self.run_task(values)
        else:
            self.run_step(values)

    @property
    def final(self) -> bool:
        """Whether the current step is the last one (after the choice of kind)."""
        return len(self.steps) > 1 and self.index == len(self.steps) - 1

    def fail(self, step: Step, text: str, log: Text) -> None:
        """Show a failed step: its error under the form, a cross in the log and in the step list."""
        self.progress.failed = step.name
        log.append(f"✗ {text}\n", style="bold red")
        self.query_one("#error", Label).update(f"{text} — fix and retry")
        self.query_one("#log", Static).update(log)
        self.query_one("#steps", Static).update(self.render_steps())

    @work(exclusive=True, group="wizard", exit_on_error=False)
    async def run_task(self, values: dict[str, str]) -> None:
        """Run a step that is a task on this machine (not API calls), its lines in the log as it goes."""
        step, log = self.step, Text()
        bar = self.query_one("#bar", ProgressBar)

        def say(line: str) -> None:
            """Show one line of the task's progress."""
            log.append(line.strip("\n") + "\n")
            self.query_one("#log", Static).update(log)

        self.busy = True
        bar.update(total=None, progress=0)  # indeterminate while it runs
        try:
            assert step.task is not None
            await step.task(self.tui, values, self.progress.state, say)
        except Exception as exc:  # noqa: BLE001 - the known failures are shown, anything else re-raised
            text = failure_text(exc)
            if text is None:
                raise
            self.fail(step, f"{step.title} failed: {text}", log)
            return
        finally:
            self.busy = False
            bar.update(total=100, progress=0 if self.progress.failed == step.name else 100)
        log.append(f"✓ {step.title}\n", style="green")
        self.query_one("#log", Static).update(log)
        self.step_done(step)

    @work(exclusive=True, group="wizard", exit_on_error=False)
    async def run_step(self, values: dict[str, str]) -> None:
        """Run the step's calls from the first not done; stop at a failure with its errortext."""
        step, prog = self.step, self.progress
        if step.name == "network" and (err := await self.overlap(values)):
            self.query_one("#error", Label).update(err)
            return
        self.busy = True
        calls = step.calls(values, prog.state)
        log = Text()
        bar = self.query_one("#bar", ProgressBar)
        try:
            for n, call in enumerate(calls):
                if n < prog.calls_done.get(step.name, 0):
                    log.append(f"✓ {call.command} (done before)\n", style="green")
                    continue
                params = call.params(values, prog.state)
                log.append(f"$ {cli_line(call.command, params)}\n", style="bold")
                self.query_one("#log", Static).update(log)
                bar.update(progress=0)
                body = await self.api.act(
                    call.command, call.command, quiet=True, progress=lambda pct: bar.update(progress=pct), **params
                )
                if body is None:
                    last = self.api.learn.entries[-1].outcome if self.api.learn.entries else "failed"
                    self.fail(step, f"{call.command} failed: {last}", log)
                    return
                call.store(body, prog.state)
                prog.calls_done[step.name] = n + 1
                bar.update(progress=100)
                log.append(f"✓ {call.command}\n", style="green")
                self.query_one("#log", Static).update(log)
        finally:
            self.busy = False
        self.step_done(step)

    def step_done(self, step: Step) -> None:
        """Mark the step done and move on (or finish)."""
        self.progress.done.add(step.name)
        self.progress.failed = ""
        self.query_one("#error", Label).update("")
        if self.final:
            self.notify("The zone is ready: deploy VMs from :vm", title="zone launched", timeout=8)
            self.query_one("#next", Button).disabled = True
            if step.task is None:
                self.query_one("#log", Static).update(self.summary().append("\nZone enabled.", style="bold green"))
            self.call_after_refresh(self.query_one("#page", VerticalScroll).scroll_end, animate=False)
            self.query_one("#steps", Static).update(self.render_steps())
            return
        self.index += 1
        self.show_step()

    async def overlap(self, values: dict[str, str]) -> str | None:
        """The public range must not overlap an existing one (read through the API)."""
        ranges = await self.api.items("listVlanIpRanges", "vlaniprange", listall=True)
        taken = [(r["startip"], r["endip"]) for r in ranges or [] if r.get("startip") and r.get("endip")]
        return validate.overlaps(values["startip"], values["endip"], taken)
