"""The k9s-style prompt: `:resource` jumps, `/text` filters (`/!text` inverts)."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input
from textual.widgets.input import Selection


class CommandLine(Input):
    """A one-line prompt at the bottom of a screen, hidden until `:` or `/`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    CommandLine, CommandLine:focus { display: none; border: none; height: 1; padding: 0 1; background: $boost; }
    CommandLine.open { display: block; }
    """

    class Jump(Message):
        """The user asked for a resource (`:vm`)."""

        def __init__(self, word: str) -> None:
            """Carry the word typed after the colon."""
            super().__init__()
            self.word = word

    class Filter(Message):
        """The filter text changed (`/web`, `/!web`)."""

        def __init__(self, text: str, invert: bool, final: bool) -> None:
            """Carry the filter and whether it is inverted or submitted."""
            super().__init__()
            self.text, self.invert, self.final = text, invert, final

    def __init__(self, **kw: object) -> None:
        """Start closed in jump mode."""
        super().__init__(**kw)  # type: ignore[arg-type]
        self.select_on_focus = False  # typing after `:` must not replace the prompt's prefix
        self.mode = ":"
        self.can_focus = False

    def open(self, mode: str, text: str = "") -> None:
        """Open the prompt in `:` or `/` mode."""
        self.mode = mode
        self.can_focus = True
        self.add_class("open")
        self.value = mode + text
        self.cursor_position = len(self.value)
        if text:  # the filter in force is selected: typing replaces it, arrows keep it to edit
            self.selection = Selection(len(mode), len(self.value))
        self.focus()

    def close(self) -> None:
        """Hide the prompt and give focus back to the screen."""
        self.remove_class("open")
        self.can_focus = False
        self.screen.focus_next()

    def _parts(self) -> tuple[str, bool]:
        """The typed text without its prefix, and whether a filter is inverted."""
        text = self.value[1:] if self.value[:1] in (":", "/") else self.value
        if self.mode == "/" and text.startswith("!"):
            return text[1:], True
        return text, False

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the user types."""
        event.stop()
        if self.mode == "/" and self.has_class("open"):
            text, inv = self._parts()
            self.post_message(self.Filter(text, inv, final=False))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Run the jump or keep the filter."""
        event.stop()
        text, inv = self._parts()
        self.close()
        if self.mode == ":":
            self.post_message(self.Jump(text.strip()))
        else:
            self.post_message(self.Filter(text, inv, final=True))

    def action_cancel(self) -> None:
        """Close; a cancelled filter is cleared."""
        if self.mode == "/":
            self.post_message(self.Filter("", False, final=True))
        self.close()

    def on_blur(self, event: events.Blur) -> None:
        """Closing when focus leaves."""
        self.remove_class("open")
        self.can_focus = False
