"""staff calls

A supervisor's staff call (篇2 四 专人回访; issue 14 §4; callback/models/staff_calls.py, callback.responses.staff_calls):
the system calls the supervisor's desk phone and bridges it to the citizen. ``staff_calls`` keeps one row per call:
the callback, the account (``user_id``, SET NULL when the account goes) and its name (``actor``), the opaque
``token`` the webhook URLs carry, the state of both legs and how long they talked. No phone number is stored.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:00:00
"""

from alembic import op
import sqlalchemy as sa

import callback.models.base

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

UTC_DATETIME = callback.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'staff_calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('callback_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('desk_call_sid', sa.String(length=64), nullable=True),
        sa.Column('desk_status', sa.String(length=20), nullable=True),
        sa.Column('dial_call_sid', sa.String(length=64), nullable=True),
        sa.Column('dial_status', sa.String(length=20), nullable=True),
        sa.Column('talk_seconds', sa.Integer(), nullable=True),
        sa.Column('placed_at', UTC_DATETIME, nullable=False),
        sa.Column('answered_at', UTC_DATETIME, nullable=True),
        sa.Column('ended_at', UTC_DATETIME, nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['callback_id'], ['callbacks.id'], name=op.f('fk_staff_calls_callback_id_callbacks')),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_staff_calls_hall_id_halls'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_calls_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_calls')),
        sa.UniqueConstraint('desk_call_sid', name=op.f('uq_staff_calls_desk_call_sid')),
        sa.UniqueConstraint('token', name=op.f('uq_staff_calls_token')),
    )
    with op.batch_alter_table('staff_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_calls_callback_id'), ['callback_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_calls_hall_id'), ['hall_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_calls_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_calls_user_id'))
        batch_op.drop_index(batch_op.f('ix_staff_calls_hall_id'))
        batch_op.drop_index(batch_op.f('ix_staff_calls_callback_id'))
    op.drop_table('staff_calls')
