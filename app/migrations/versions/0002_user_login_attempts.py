"""user.incorrect_login_attempts: wrong passwords in a row (incorrect.login.attempts.allowed locks the user)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incorrect_login_attempts', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('incorrect_login_attempts')
