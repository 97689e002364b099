"""person digest: a full sync rewrites only the people whose content changed

Revision ID: 0010_digests
Revises: 0009_reviews
Create Date: 2026-12-01 21:15:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_digests'
down_revision = '0009_reviews'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('digest')
