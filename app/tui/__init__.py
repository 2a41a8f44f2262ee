"""virga's full-screen TUI (Textual): an API client like any other."""

from virga.tui.app import VirgaTUI, make_app

__all__ = ["VirgaTUI", "make_app"]
