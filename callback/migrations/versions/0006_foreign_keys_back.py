"""foreign keys back

Migration 0003 replaced the foreign keys of cases and contacts with hand-written triggers (statement-level on
PostgreSQL, with a table lock on deletes; row triggers on SQLite) to save CPU on million-row imports. The import
meets its capacity target with plain foreign keys (README "Benchmarks"), so the triggers and their functions go, and the
keys come back, each scoped to the case's hall:

    cases (hall_id, window_id)  → windows (hall_id, id)     fk_cases_hall_window_windows (as in 0002)
    cases (hall_id, staff_id)   → staff (hall_id, id)       fk_cases_hall_staff_staff (as in 0002)
    cases (hall_id, contact_id) → contacts (hall_id, id)    fk_cases_hall_contact_contacts (new: 0001's key to
                                                            contacts (id) did not check the hall)
    contacts (hall_id)          → halls (id)                fk_contacts_hall_id_halls (as in 0001)

The contact's key needs a unique key to point at, uq_contacts_hall_id_id, as windows and staff got in 0002.
A NULL staff or contact is not checked (MATCH SIMPLE). Deleting a referenced row, or changing its key, is refused
by the database as for every other key. The upgrade is 0003's downgrade (drop the triggers, restore 0002's keys)
followed by the hall-scoped contact key; the existing rows are checked as the keys are added (on SQLite by
callback.migrate, which runs upgrades with keys off and checks them before committing).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:00:00.000000
"""

from types import ModuleType

from alembic import context, op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _revision_0003() -> ModuleType:
    """Migration 0003's module: its trigger definitions are frozen there, and undoing them is its downgrade."""
    return context.script.get_revision('0003').module


def upgrade() -> None:
    _revision_0003().downgrade()

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_contacts_hall_id_id'), ['hall_id', 'id'])

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_contact_id_contacts'), type_='foreignkey')
        batch_op.create_foreign_key('fk_cases_hall_contact_contacts', 'contacts', ['hall_id', 'contact_id'],
                                    ['hall_id', 'id'])


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_hall_contact_contacts', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_cases_contact_id_contacts'), 'contacts', ['contact_id'], ['id'])

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_contacts_hall_id_id'), type_='unique')

    _revision_0003().upgrade()
