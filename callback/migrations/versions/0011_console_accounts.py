"""console accounts

The supervision console's accounts (issue 14 §1; callback/models/accounts.py):

* ``users``: one per person who logs in — hall, role, the window of a window lead or staff member (a composite
  key, so it is a window of the same hall), the staff row of a staff account, desk phone, language, the login
  throttle's state (failed logins, locked until) and the last login. Passwords only as scrypt hashes.
* ``audit_events.user_id`` and ``audit_events.ip``: which account acted in the console and from where; the login
  throttle counts an address's recent failures through ``ix_audit_events_ip_at``. NULL for the CLI and the worker.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:07:08.590953
"""

from alembic import op
import sqlalchemy as sa

import callback.models.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

UTC_DATETIME = callback.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=40), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('display_name', sa.String(length=40), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('window_id', sa.Integer(), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('desk_phone', sa.String(length=20), nullable=True),
        sa.Column('language', sa.String(length=8), server_default='zh-Hans', nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
        sa.Column('locked_until', UTC_DATETIME, nullable=True),
        sa.Column('last_login_at', UTC_DATETIME, nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['hall_id', 'staff_id'], ['staff.hall_id', 'staff.id'], name='fk_users_hall_staff_staff'),
        sa.ForeignKeyConstraint(['hall_id', 'window_id'], ['windows.hall_id', 'windows.id'],
                                name='fk_users_hall_window_windows'),
        sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_users_hall_id_halls'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
        sa.UniqueConstraint('username', name=op.f('uq_users_username')),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_hall_id'), ['hall_id'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ip', sa.String(length=45), nullable=True))
        batch_op.create_index('ix_audit_events_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_user_id'), ['user_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_events_user_id_users'), 'users', ['user_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_events_user_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_events_user_id'))
        batch_op.drop_index('ix_audit_events_ip_at')
        batch_op.drop_column('ip')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_hall_id'))
    op.drop_table('users')
