"""results approvals

The leader's approval of a week's or a month's public figures (篇2 六; issue 14 §7; callback/models/publication.py,
callback.results.publication): ``results_approvals`` keeps the period, the digest of the figures approved, the
leader's name and the console account (``user_id``, SET NULL when the account goes). A supervisor publishes only
figures whose digest matches the latest approval.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:39:01.107608
"""

from alembic import op
import sqlalchemy as sa

import callback.models.base

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

UTC_DATETIME = callback.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'results_approvals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=5), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('approved_by', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('approved_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_results_approvals_hall_id_halls'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_results_approvals_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_results_approvals')),
    )
    with op.batch_alter_table('results_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_results_approvals_hall_id'), ['hall_id'], unique=False)
        batch_op.create_index('ix_results_approvals_hall_period', ['hall_id', 'period'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('results_approvals', schema=None) as batch_op:
        batch_op.drop_index('ix_results_approvals_hall_period')
        batch_op.drop_index(batch_op.f('ix_results_approvals_hall_id'))
    op.drop_table('results_approvals')
