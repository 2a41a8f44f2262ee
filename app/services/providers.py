"""Network service providers and VirtualRouter elements: the writes and the jobs that answer."""

from __future__ import annotations

from sqlmodel import select
from virga.context import Ctx
from virga.jobs.pending import Pending
from virga.models import NetworkServiceProvider, PhysicalNetwork, utcnow
from virga.models.infra import VirtualRouterElement
from virga.services.physnet import DEFAULT_PROVIDERS, add_provider
from virga.services.simplejobs import echo_job, pending, success_job
from virga.services.states import EnabledState, transition

EVENTS = {EnabledState.ENABLED: "enable", EnabledState.DISABLED: "disable", EnabledState.SHUTDOWN: "shutdown"}


def add_nsp(ctx: Ctx, pn: PhysicalNetwork, name: str, servicelist: list[str] | None) -> Pending:
    """Record a provider (Disabled until enabled) with its services (the default ones when none are given)."""
    services = ",".join(servicelist) if servicelist else DEFAULT_PROVIDERS.get(name, "")
    return pending("NetworkServiceProvider", add_provider(ctx, pn, name, services))


def update_nsp(ctx: Ctx, nsp: NetworkServiceProvider, state: str | None, servicelist: list[str] | None) -> Pending:
    """Move a provider to a state (already validated) or change its services."""
    if state:
        transition(nsp, EVENTS[EnabledState(state)])
    if servicelist is not None:
        nsp.servicelist = ",".join(servicelist)
    ctx.db.add(nsp)
    return pending("NetworkServiceProvider", nsp)


def delete_nsp(ctx: Ctx, nsp: NetworkServiceProvider) -> Pending:
    """Mark a provider and its element removed."""
    nsp.removed = utcnow()
    ctx.db.add(nsp)
    for e in ctx.db.exec(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id)):
        e.removed = nsp.removed
        ctx.db.add(e)
    return pending("NetworkServiceProvider", nsp)


def configure_element(ctx: Ctx, e: VirtualRouterElement, enabled: bool) -> Pending:
    """Enable or disable a VirtualRouter element."""
    e.enabled = enabled
    ctx.db.add(e)
    return pending("VirtualRouterElement", e)


# the synchronous part did the work: each job only answers (restart FAIL)
add_nsp_job = echo_job("addNetworkServiceProvider", NetworkServiceProvider)
update_nsp_job = echo_job("updateNetworkServiceProvider", NetworkServiceProvider)
configure_element_job = echo_job("configureVirtualRouterElement", VirtualRouterElement)
delete_nsp_job = success_job("deleteNetworkServiceProvider")
