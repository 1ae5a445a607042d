"""cases: index (hall_id, id) for the weekly draw

The draw streams a hall's cases of the ledger window in case-id order, the order its fingerprint is taken in
(callback/draws/services.py, `derive_candidates`). With only the primary key and (hall_id, accepted_at),
PostgreSQL either walked the primary key through every hall's cases or read the whole table and sorted; for a
hall of a million cases among a province's 1,000 that took 12 s to minutes (README, "Benchmarks"). With
(hall_id, id) it reads that hall's rows, already in order. No data changes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 12:00:00
"""

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_hall_id_id', ['hall_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_hall_id_id')
