"""rectification loop and alerts

The rectification loop without loopholes (篇2 五, 篇3 (五)2):

* ``rectifications.revisit_required``: the first callback was not satisfied, so a 二次回访 is due whether or not
  the window gave feedback; ``revisit_skipped`` says why a due revisit could not be placed (opted out, no
  number). Existing cases are filled in from their excerpt's overall rating (the callback's rating when the case
  opened), first callbacks only.
* ``closed_without_feedback`` and ``close_reason``: a case closed without feedback because the citizen's point
  needed none (篇2 五 "需要反馈的"), with the reason.
* ``alert_recipients``: the hall's supervisors who receive alerts (name, mobile, e-mail, which alerts).
* ``alerts``: the outbox of alerts to them, unique per (case, kind, local day), written before anything is sent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import callback.models.base

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
UTC_DATETIME = callback.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revisit_required', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('revisit_skipped', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('closed_without_feedback', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('close_reason', sa.Text(), nullable=True))
    _fill_revisit_required()
    op.create_table(
        'alert_recipients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('mobile', sa.String(length=20), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('kinds', JSON, nullable=False),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_alert_recipients_hall_id_halls'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_recipients')),
        sa.UniqueConstraint('hall_id', 'name', name=op.f('uq_alert_recipients_hall_id_name')),
    )
    with op.batch_alter_table('alert_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_recipients_hall_id'), ['hall_id'], unique=False)
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('rectification_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('email_status', sa.String(length=10), nullable=False),
        sa.Column('email_sent_at', UTC_DATETIME, nullable=True),
        sa.Column('sms_status', sa.String(length=10), nullable=False),
        sa.Column('sms_sent_at', UTC_DATETIME, nullable=True),
        sa.Column('delivered', JSON, nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_alerts_hall_id_halls'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['rectification_id'], ['rectifications.id'],
                                name=op.f('fk_alerts_rectification_id_rectifications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
        sa.UniqueConstraint('rectification_id', 'kind', 'day', name=op.f('uq_alerts_rectification_id_kind_day')),
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_hall_id'), ['hall_id'], unique=False)
        batch_op.create_index('ix_alerts_pending', ['email_status', 'sms_status'], unique=False)


def _fill_revisit_required() -> None:
    """A first callback (not itself a revisit) whose overall rating, as stored in the case's excerpt when it
    opened, was 基本满意 or 不满意 needs its 二次回访 (篇3 (五)2)."""
    rectifications = sa.table('rectifications', sa.column('id', sa.Integer()), sa.column('callback_id', sa.Integer()),
                              sa.column('excerpt', sa.JSON()), sa.column('revisit_required', sa.Boolean()))
    callbacks = sa.table('callbacks', sa.column('id', sa.Integer()), sa.column('revisit_of_id', sa.Integer()))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(rectifications.c.id, rectifications.c.excerpt)
        .join(callbacks, callbacks.c.id == rectifications.c.callback_id)
        .where(callbacks.c.revisit_of_id.is_(None))
    )
    due = [row.id for row in rows if (row.excerpt or {}).get('overall') in ('B', 'U')]
    for start in range(0, len(due), 500):
        bind.execute(sa.update(rectifications).where(rectifications.c.id.in_(due[start:start + 500]))
                     .values(revisit_required=True))


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_pending')
        batch_op.drop_index(batch_op.f('ix_alerts_hall_id'))
    op.drop_table('alerts')
    with op.batch_alter_table('alert_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_recipients_hall_id'))
    op.drop_table('alert_recipients')
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.drop_column('close_reason')
        batch_op.drop_column('closed_without_feedback')
        batch_op.drop_column('revisit_skipped')
        batch_op.drop_column('revisit_required')
