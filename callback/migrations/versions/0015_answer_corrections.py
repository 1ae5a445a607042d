"""answer corrections

A supervisor corrects a misheard answer in the console (issue 14 §3; callback.responses.corrections): the answer
as the citizen first gave it stays on its row (``answers.original_value`` / ``original_key``, set at the first
correction and never again), with who corrected it last, when and why (``corrected_by``, ``corrected_at``,
``correction_reason``). Every correction is an audit event too. Existing answers were never corrected: NULL.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:00:00
"""

from alembic import op
import sqlalchemy as sa

import callback.models.base

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

UTC_DATETIME = callback.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original_value', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('original_key', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('corrected_at', UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column('corrected_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('correction_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_column('correction_reason')
        batch_op.drop_column('corrected_by')
        batch_op.drop_column('corrected_at')
        batch_op.drop_column('original_key')
        batch_op.drop_column('original_value')
