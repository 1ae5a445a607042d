"""composite hall keys on cases

A case's hall and window are checked by one composite key (hall_id, window_id) → windows (hall_id, id), which
replaces the separate keys to halls and windows; its staff by (hall_id, staff_id) → staff (hall_id, id). Each
foreign key is a query per inserted row, so a million-row ledger import makes one check fewer per case, and the
keys now also prove that the window and staff member belong to the case's hall.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:27:56.129065
"""

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the referenced (hall_id, id) keys first: a foreign key needs a unique constraint to point at
    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_windows_hall_id_id'), ['hall_id', 'id'])

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_staff_hall_id_id'), ['hall_id', 'id'])

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_hall_id_halls'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_cases_staff_id_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_cases_window_id_windows'), type_='foreignkey')
        batch_op.create_foreign_key('fk_cases_hall_staff_staff', 'staff', ['hall_id', 'staff_id'], ['hall_id', 'id'])
        batch_op.create_foreign_key('fk_cases_hall_window_windows', 'windows', ['hall_id', 'window_id'],
                                    ['hall_id', 'id'])


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_hall_window_windows', type_='foreignkey')
        batch_op.drop_constraint('fk_cases_hall_staff_staff', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_cases_window_id_windows'), 'windows', ['window_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_cases_staff_id_staff'), 'staff', ['staff_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_cases_hall_id_halls'), 'halls', ['hall_id'], ['id'],
                                    ondelete='RESTRICT')

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_staff_hall_id_id'), type_='unique')

    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_windows_hall_id_id'), type_='unique')
