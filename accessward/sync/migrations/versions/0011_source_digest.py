"""person source digest: a full LDAP run skips the entries whose raw bytes did not change

Revision ID: 0011_source_digest
Revises: 0010_digests
Create Date: 2026-12-01 23:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011_source_digest'
down_revision = '0010_digests'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_digest', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('stable_until', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('stable_until')
        batch_op.drop_column('source_digest')
