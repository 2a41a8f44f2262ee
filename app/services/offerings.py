"""Service and disk offerings: every write of their commands (the catalog of what VMs and volumes get)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from virga.models import DiskOffering, ServiceOffering, utcnow
from virga.services.states import transition

Offering = ServiceOffering | DiskOffering


def create_service_offering(s: Session, **fields: Any) -> ServiceOffering:
    """createServiceOffering: a new offering with the checked fields."""
    o = ServiceOffering(**fields)
    s.add(o)
    s.flush()
    return o


def create_disk_offering(s: Session, **fields: Any) -> DiskOffering:
    """createDiskOffering: a new offering with the checked fields."""
    o = DiskOffering(**fields)
    s.add(o)
    s.flush()
    return o


def update_offering(s: Session, o: Offering, changes: dict[str, Any]) -> Offering:
    """updateServiceOffering/updateDiskOffering: the checked changes (attribute -> value)."""
    for attr, value in changes.items():
        setattr(o, attr, value)
    s.add(o)
    return o


def delete_offering(s: Session, o: Offering) -> None:
    """deleteServiceOffering/deleteDiskOffering: out of the catalog (what uses it keeps it)."""
    transition(o, "remove")
    o.removed = utcnow()
    s.add(o)
