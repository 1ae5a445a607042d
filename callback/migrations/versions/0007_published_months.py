"""published months

A publication is a week or a month (篇2 六 for weeks; 篇1 for the month's 红旗窗口): ``published_reports.week``
becomes ``period`` (an ISO week "2026-W45" or a month "2026-11"; the two forms never collide, so versions stay
unique per (hall_id, period, version)) and ``kind`` says which (``week`` | ``month``; every existing row is a
week).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('published_reports', schema=None) as batch_op:
        batch_op.drop_constraint('uq_published_reports_hall_id_week_version', type_='unique')
        batch_op.alter_column('week', new_column_name='period', existing_type=sa.String(length=10),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('kind', sa.String(length=5), server_default='week', nullable=False))
    # A second batch: on SQLite a constraint on a column renamed in the same batch is silently lost.
    with op.batch_alter_table('published_reports', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_published_reports_hall_id_period_version'),
                                          ['hall_id', 'period', 'version'])


def downgrade() -> None:
    # A month cannot be stored by 0006: months are dropped, weeks keep their rows.
    op.execute("DELETE FROM published_reports WHERE kind = 'month'")
    with op.batch_alter_table('published_reports', schema=None) as batch_op:
        batch_op.drop_constraint('uq_published_reports_hall_id_period_version', type_='unique')
        batch_op.drop_column('kind')
        batch_op.alter_column('period', new_column_name='week', existing_type=sa.String(length=10),
                              existing_nullable=False)
    with op.batch_alter_table('published_reports', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_published_reports_hall_id_week_version'),
                                          ['hall_id', 'week', 'version'])
