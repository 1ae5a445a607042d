"""published reports

The weekly publication (DESIGN.md §2.6, 篇2 六): one row per approved publication of a hall's week. ``figures``
holds only the public per-window figures; publishing a week again adds the next version, unique per
(hall_id, week, version).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 08:46:53.507190
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import callback.models.base

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'published_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('week', sa.String(length=10), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('figures', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
                  nullable=False),
        sa.Column('approved_by', sa.String(length=100), nullable=False),
        sa.Column('published_at', callback.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_published_reports_hall_id_halls'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_published_reports')),
        sa.UniqueConstraint('hall_id', 'week', 'version', name=op.f('uq_published_reports_hall_id_week_version')),
    )
    with op.batch_alter_table('published_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_reports_hall_id'), ['hall_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('published_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_reports_hall_id'))
    op.drop_table('published_reports')
