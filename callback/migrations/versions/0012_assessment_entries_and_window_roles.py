"""assessment entries and window roles

篇3 assessment (issue 15; callback/models/assessment.py, callback.assessment):

* ``assessment_entries``: what supervisors record for a staff member's month — clause, count or minutes, grade,
  discretionary points, note, who and when; corrected, never deleted: a correcting entry names the entry it
  replaces (``supersedes_id``, unique) with the reason. ``import_key`` makes a re-imported template add nothing.
* ``assessment_approvals``: the leader's approval of a month's bulletin, with the digest of the figures approved.
* ``windows.role``: comprehensive (综合受理) | issuing (出件) | other — which windows 篇3 七9's volume bonus
  rewards; every existing window starts as ``other``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:13:36.054835
"""

from alembic import op
import sqlalchemy as sa

import callback.models.base

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

UTC_DATETIME = callback.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'assessment_approvals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('approved_by', sa.String(length=100), nullable=False),
        sa.Column('approved_at', UTC_DATETIME, nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_assessment_approvals_hall_id_halls'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_approvals')),
    )
    with op.batch_alter_table('assessment_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_approvals_hall_id'), ['hall_id'], unique=False)
        batch_op.create_index('ix_assessment_approvals_hall_month', ['hall_id', 'month'], unique=False)

    op.create_table(
        'assessment_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('clause', sa.String(length=8), nullable=False),
        sa.Column('grade', sa.String(length=32), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=True),
        sa.Column('points', sa.String(length=12), nullable=True),  # DecimalText: "1.5"
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('import_key', sa.String(length=64), nullable=True),
        sa.Column('supersedes_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('entered_by', sa.String(length=100), nullable=False),
        sa.Column('entered_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['hall_id', 'staff_id'], ['staff.hall_id', 'staff.id'],
                                name='fk_assessment_entries_hall_staff_staff'),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_assessment_entries_hall_id_halls'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['supersedes_id'], ['assessment_entries.id'],
                                name=op.f('fk_assessment_entries_supersedes_id_assessment_entries'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_entries')),
        sa.UniqueConstraint('supersedes_id', name=op.f('uq_assessment_entries_supersedes_id')),
    )
    with op.batch_alter_table('assessment_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_entries_hall_id'), ['hall_id'], unique=False)
        batch_op.create_index('ix_assessment_entries_hall_month', ['hall_id', 'month'], unique=False)
        batch_op.create_index('ux_assessment_entries_hall_import_key', ['hall_id', 'import_key'], unique=True)

    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='other', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.drop_column('role')
    with op.batch_alter_table('assessment_entries', schema=None) as batch_op:
        batch_op.drop_index('ux_assessment_entries_hall_import_key')
        batch_op.drop_index('ix_assessment_entries_hall_month')
        batch_op.drop_index(batch_op.f('ix_assessment_entries_hall_id'))
    op.drop_table('assessment_entries')
    with op.batch_alter_table('assessment_approvals', schema=None) as batch_op:
        batch_op.drop_index('ix_assessment_approvals_hall_month')
        batch_op.drop_index(batch_op.f('ix_assessment_approvals_hall_id'))
    op.drop_table('assessment_approvals')
