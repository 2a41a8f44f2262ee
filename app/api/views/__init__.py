"""Serialisers: database rows to CloudStack response objects (fields as its response classes).

Each resource's response object is built in one place, a module of this package. Job bodies return
`Ref`s (virga.jobs.engine); `render_refs` turns them into job results through the RENDERERS of the
modules listed in VIEW_MODULES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.context import Ctx
from virga.errors import InternalError

if TYPE_CHECKING:
    from virga.core import VirgaApp
    from virga.jobs.engine import Ref

# model -> (result key, batch view: ctx and rows -> one response object per row)
BatchView = Callable[[Ctx, list[Any]], list[dict[str, Any]]]
VIEW_MODULES = (
    "virga.api.views.simulator",
    "virga.api.views.offerings",
    "virga.api.views.limits",
    "virga.api.views.jobs",
    "virga.api.views.imagestores",
    "virga.api.views.events",
    "virga.api.views.configurations",
    "virga.api.views.capacity",
    "virga.api.views.accounts",
    "virga.api.views.addresses",
    "virga.api.views.hosts",
    "virga.api.views.lb",
    "virga.api.views.metrics",
    "virga.api.views.netofferings",
    "virga.api.views.networks",
    "virga.api.views.physnet",
    "virga.api.views.providers",
    "virga.api.views.routers",
    "virga.api.views.rules",
    "virga.api.views.secgroups",
    "virga.api.views.snapshots",
    "virga.api.views.sshkeys",
    "virga.api.views.storagepools",
    "virga.api.views.tags",
    "virga.api.views.templates",
    "virga.api.views.uploads",
    "virga.api.views.vlanranges",
    "virga.api.views.vm",
    "virga.api.views.vmsnapshots",
    "virga.api.views.volumes",
    "virga.api.views.zones",
)


def _renderers() -> dict[type, tuple[str, BatchView]]:
    """Every view module's RENDERERS, merged (a model rendered by two modules is an error)."""
    out: dict[type, tuple[str, BatchView]] = {}
    for name in VIEW_MODULES:
        for model, entry in getattr(importlib.import_module(name), "RENDERERS", {}).items():
            if model in out:
                raise RuntimeError(f"{model.__name__} has two views ({name})")
            out[model] = entry
    return out


def render_refs(app: VirgaApp) -> Callable[[Session, int | None, list[Ref]], list[dict[str, Any]]]:
    """The job engine's renderer: refs to {key: object} as the job's user sees them, in the given session."""
    table = _renderers()

    def render(s: Session, user_id: int | None, refs: list[Ref]) -> list[dict[str, Any]]:
        """Render refs, one batch view call per model."""
        ctx = app.ctx_for_user(s, user_id)
        rows: list[Any] = []
        for r in refs:
            row = r.row
            if isinstance(row, str):
                row = s.exec(select(r.model).where(r.model.uuid == row)).first()  # type: ignore[attr-defined]
                if row is None:
                    raise InternalError(f"{r.model.__name__} {r.row} vanished before its job result was written")
            rows.append(row)
        out: list[dict[str, Any] | None] = [None] * len(refs)
        for model in {r.model for r in refs}:
            if model not in table:
                raise InternalError(f"no view renders {model.__name__} (add it to a RENDERERS in virga.api.views)")
            key, view = table[model]
            idx = [i for i, r in enumerate(refs) if r.model is model]
            for i, obj in zip(idx, view(ctx, [rows[i] for i in idx]), strict=True):
                out[i] = {refs[i].key or key: obj}
        return [o for o in out if o is not None]

    return render
