"""on-site forms: a callback may have no case and no contact

An on-site form (征求意见表, 篇2 三(二)) is a questionnaire response of a window, filled in the hall: it is stored as
a callback with channel ``onsite``, no draw, no ledger case and no phone number. ``callbacks.case_id`` and
``callbacks.contact_id`` become nullable; every existing row keeps its values. Downgrading deletes the on-site
forms (and what hangs off them: answers, transcript lines, rectification cases and their events), since 0008
cannot store them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('contact_id', existing_type=sa.Integer(), nullable=True)


ONSITE = "SELECT id FROM callbacks WHERE case_id IS NULL OR contact_id IS NULL"


def downgrade() -> None:
    op.execute(f"DELETE FROM rectification_events WHERE rectification_id IN "
               f"(SELECT id FROM rectifications WHERE callback_id IN ({ONSITE}))")
    for table in ('rectifications', 'answers', 'transcript_events', 'messages', 'attempts'):
        op.execute(f"DELETE FROM {table} WHERE callback_id IN ({ONSITE})")
    op.execute(f"DELETE FROM callbacks WHERE id IN ({ONSITE})")
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.alter_column('contact_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
