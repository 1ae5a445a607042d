"""evaluator presses

The electronic evaluator (电子评价器, 篇2 六; 篇3 (五)1): one row per press, imported from device and 好差评 exports
(``callback evaluator import``, ``POST /api/v1/evaluations``). Like a case, a press's window and staff member are
its hall's (composite keys onto their ``(hall_id, id)``); ``press_key`` is unique per hall, so a re-import adds
nothing (callback.evaluator.records.press_key). Staff gain ``staff_no`` (工号), unique per hall where set, which
evaluator exports may name them by; a unique index, so SQLite adds it without rebuilding ``staff``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import callback.models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evaluator_presses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('pressed_at', callback.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('window_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('rating', sa.String(length=1), nullable=False),
        sa.Column('level', sa.String(length=32), nullable=False),
        sa.Column('case_no', sa.String(length=64), nullable=True),
        sa.Column('record_id', sa.String(length=64), nullable=True),
        sa.Column('press_key', sa.String(length=32), nullable=False),
        sa.Column('import_batch_id', sa.Integer(), nullable=True),
        sa.Column('created_at', callback.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['hall_id', 'staff_id'], ['staff.hall_id', 'staff.id'],
                                name='fk_evaluator_presses_hall_staff_staff'),
        sa.ForeignKeyConstraint(['hall_id', 'window_id'], ['windows.hall_id', 'windows.id'],
                                name='fk_evaluator_presses_hall_window_windows'),
        sa.ForeignKeyConstraint(['import_batch_id'], ['import_batches.id'],
                                name=op.f('fk_evaluator_presses_import_batch_id_import_batches'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluator_presses')),
        sa.UniqueConstraint('hall_id', 'press_key', name=op.f('uq_evaluator_presses_hall_id_press_key')),
    )
    op.create_index('ix_evaluator_presses_hall_pressed', 'evaluator_presses', ['hall_id', 'pressed_at'])
    op.create_index(op.f('ix_evaluator_presses_import_batch_id'), 'evaluator_presses', ['import_batch_id'])
    op.add_column('staff', sa.Column('staff_no', sa.String(length=64), nullable=True))
    op.create_index('ux_staff_hall_staff_no', 'staff', ['hall_id', 'staff_no'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_staff_hall_staff_no', table_name='staff')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('staff_no')
    op.drop_index(op.f('ix_evaluator_presses_import_batch_id'), table_name='evaluator_presses')
    op.drop_index('ix_evaluator_presses_hall_pressed', table_name='evaluator_presses')
    op.drop_table('evaluator_presses')
