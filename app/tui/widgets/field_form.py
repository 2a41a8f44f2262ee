"""A column of labelled inputs/selects built from catalog Fields, with inline validation."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select
from virga.tui.catalog.base import Field


def check(field: Field, value: str) -> str | None:
    """The error of one field's value, or None when it is valid."""
    if not value.strip():
        return "required" if field.required else None
    return field.validate(value) if field.validate else None


class FieldForm(Vertical):
    """Inputs for fields; read() gives their values, validate_all() shows errors inline."""

    DEFAULT_CSS = """
    FieldForm { height: auto; }
    FieldForm > Horizontal { height: auto; margin-top: 1; }
    FieldForm > Horizontal > Label { width: 26; padding-right: 1; }
    FieldForm > Horizontal > Input, FieldForm > Horizontal > Select { width: 1fr; }
    FieldForm Label.error { color: $error; padding-left: 26; }
    FieldForm Label.error.ok { display: none; }
    """

    def __init__(
        self, fields: tuple[Field, ...], values: dict[str, str] | None = None, autofocus: bool = False, **kw: Any
    ) -> None:
        """Keep the fields and their starting values (`autofocus`: the first field takes the focus when shown)."""
        super().__init__(**kw)
        self.autofocus = autofocus
        self.fields, self.values = fields, values or {}
        self.offered: dict[str, list[str]] = {f.name: list(f.options) for f in fields if f.options}

    def compose(self) -> ComposeResult:
        """A label, an input (or select) and an error line per field."""
        for f in self.fields:
            with Horizontal():
                yield Label(f.label + (" *" if f.required else ""))
                start = self.values.get(f.name, f.default)
                if f.choice is not None or f.options:
                    initial = self.initial(f)
                    yield Select(
                        [(o, o) for o in f.options],
                        id=f"f-{f.name}",
                        value=initial or Select.NULL,
                        allow_blank=True,
                        compact=True,
                    )
                else:
                    yield Input(start, placeholder=f.placeholder, password=f.password, id=f"f-{f.name}", compact=True)
            yield Label("", id=f"e-{f.name}", classes="error ok")

    def on_mount(self) -> None:
        """Give the first field the focus when asked (after the form it replaces is gone)."""
        if self.autofocus:
            self.call_after_refresh(self.focus_first)

    def focus_first(self) -> None:
        """Focus the first field."""
        first = self.query("Input, Select")
        if first:
            first.first().focus()

    def initial(self, f: Field) -> str:
        """A select's starting value: the saved or default one when it is one of the options."""
        start = self.values.get(f.name, f.default)
        return start if start in f.options else ""

    def read(self) -> dict[str, str]:
        """The current value of every field (a select not mounted yet still has its starting value)."""
        out: dict[str, str] = {}
        for f in self.fields:
            widget = self.query_one(f"#f-{f.name}")
            if isinstance(widget, Select):
                if not widget.is_mounted:
                    out[f.name] = self.initial(f)
                    continue
                out[f.name] = "" if widget.value in (Select.NULL, None) else str(widget.value)
            else:
                out[f.name] = widget.value  # type: ignore[attr-defined]
        return out

    def show_error(self, name: str, err: str | None) -> None:
        """Show (or clear) one field's error."""
        label = self.query_one(f"#e-{name}", Label)
        label.update(err or "")
        label.set_class(err is None, "ok")

    def validate_all(self) -> dict[str, str] | None:
        """Check every field; the values when all are valid."""
        values, ok = self.read(), True
        for f in self.fields:
            err = check(f, values[f.name])
            self.show_error(f.name, err)
            ok = ok and err is None
        return values if ok else None

    def on_input_changed(self, event: Input.Changed) -> None:
        """Validate a field as it is typed."""
        name = (event.input.id or "")[2:]
        for f in self.fields:
            if f.name == name:
                self.show_error(name, check(f, event.value))

    def set_choices(self, name: str, options: list[tuple[str, str]], pick_first: bool) -> None:
        """Fill a select's options, keeping its value (the saved one before the first load) when still offered."""
        sel = self.query_one(f"#f-{name}", Select)
        keep = "" if sel.value in (Select.NULL, None) else str(sel.value)
        keep = keep or self.values.get(name, "")
        sel.set_options(options)
        self.offered[name] = [v for _, v in options]
        if keep and any(v == keep for _, v in options):
            sel.value = keep
        elif pick_first and options:
            sel.value = options[0][1]

    def set_value(self, name: str, value: str) -> None:
        """Set one field's value (a select only to one of its options)."""
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Select):
            if value in self.offered.get(name, []):
                widget.value = value
        elif isinstance(widget, Input):
            widget.value = value
