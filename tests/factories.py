"""Build test data straight in the database (API commands are tested on their own).

The simulator cloud, users and networks come from bench.support.cloud (the API benchmark seeds with them).
"""

from __future__ import annotations

from sqlmodel import select
from virga.core import VirgaApp
from virga.models import Domain

from bench.support.cloud import Cloud, build_sim_cloud, make_network, make_user

__all__ = ["Cloud", "build_sim_cloud", "make_domain", "make_network", "make_user"]


def make_domain(app: VirgaApp, name: str, parent_path: str = "/") -> str:
    """Create a child domain and return its path."""
    with app.db.session() as s:
        parent = s.exec(select(Domain).where(Domain.path == parent_path)).one()
        path = f"{parent_path}{name}/"
        s.add(Domain(name=name, parent_id=parent.id, path=path, level=parent.level + 1))
        s.commit()
    return path
