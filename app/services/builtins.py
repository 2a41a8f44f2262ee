"""Templates a hypervisor ships: registered, ready and featured in each zone a host of that hypervisor joins."""

from __future__ import annotations

from sqlmodel import Session, select
from virga.drivers.base import BuiltinTemplate
from virga.models import Account, OsCategory, OsType, Template, Zone


def ensure_builtin_templates(s: Session, zone: Zone, hypervisor: str, builtins: tuple[BuiltinTemplate, ...]) -> None:
    """Add each built-in template the zone does not have yet (owned by the system account, public, featured)."""
    if not builtins:
        return
    system = s.exec(select(Account).where(Account.name == "system")).one()
    for b in builtins:
        have = s.exec(
            select(Template).where(
                Template.zone_id == zone.id,
                Template.name == b.name,
                Template.templatetype == "BUILTIN",
                Template.removed == None,
            )
        ).first()
        if have is not None:
            continue
        s.add(
            Template(
                name=b.name,
                displaytext=b.displaytext,
                format=b.format,
                hypervisor=hypervisor,
                ostype_id=_ostype(s, b.os_category, b.os_type).id,
                zone_id=zone.id,
                url=b.url,
                isready=True,
                status="Download Complete",
                size=b.size_bytes,
                physicalsize=b.size_bytes,
                ispublic=True,
                isfeatured=True,
                passwordenabled=b.passwordenabled,
                templatetype="BUILTIN",
                account_id=system.id or 0,
                domain_id=system.domain_id,
            )
        )
    s.flush()


def _ostype(s: Session, category: str, description: str) -> OsType:
    """The guest OS type of that description, added to its category (made if missing) when absent."""
    found = s.exec(select(OsType).where(OsType.description == description)).first()
    if found is not None:
        return found
    cat = s.exec(select(OsCategory).where(OsCategory.name == category)).first()
    if cat is None:
        cat = OsCategory(name=category)
        s.add(cat)
        s.flush()
    os = OsType(description=description, oscategory_id=cat.id or 0)
    s.add(os)
    s.flush()
    return os
