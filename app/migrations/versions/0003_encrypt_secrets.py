"""encrypt secrets at rest: API secret keys, host passwords and keys, VM passwords (key file kept apart)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _rewrite(convert, wanted) -> None:
    """Rewrite every value of the encrypted columns that `wanted` selects through `convert`."""
    from virga.services.secrets import COLUMNS

    conn = op.get_bind()
    for table, column in COLUMNS:
        t = sa.table(table, sa.column('id', sa.Integer), sa.column(column, sa.String))
        rows = conn.execute(sa.select(t.c.id, t.c[column]).where(t.c[column] != None, t.c[column] != '')).all()
        for row_id, value in rows:
            if wanted(value):
                conn.execute(t.update().where(t.c.id == row_id).values({column: convert(value)}))


def upgrade() -> None:
    """Encrypt the values stored in clear (the key file is made when there is none)."""
    from virga.services.secrets import PREFIX, encrypt

    _rewrite(encrypt, lambda v: not v.startswith(PREFIX))


def downgrade() -> None:
    """Store the secrets in clear again (needs the key file)."""
    from virga.services.secrets import PREFIX, decrypt

    _rewrite(decrypt, lambda v: v.startswith(PREFIX))
