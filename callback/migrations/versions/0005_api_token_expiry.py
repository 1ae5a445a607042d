"""api token expiry and last use

Ledger API tokens expire and say when they were last used (issue 11 §7). ``expires_at`` is required: the tokens
made before this revision get their creation time + 365 days, the default of ``callback tokens create``, so no
token lives for ever unnoticed (one made more than a year ago stops working at once and needs a new one).
``last_used_at`` starts empty.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00.000000
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import callback.models.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_tokens = sa.table(
    'api_tokens',
    sa.column('id', sa.Integer()),
    sa.column('created_at', callback.models.base.UTCDateTime(timezone=True)),
    sa.column('expires_at', callback.models.base.UTCDateTime(timezone=True)),
)


def _backfill_expiry() -> None:
    """In Python through the column type, so both backends store the time exactly as the models write it."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(_tokens.c.id, _tokens.c.created_at)).all()
    for token_id, created in rows:
        bind.execute(_tokens.update().where(_tokens.c.id == token_id)
                     .values(expires_at=created + timedelta(days=365)))


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', callback.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', callback.models.base.UTCDateTime(timezone=True), nullable=True))
    _backfill_expiry()
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=callback.models.base.UTCDateTime(timezone=True),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')
