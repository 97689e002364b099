"""scim unmatched deprovisionings; SCIM users' reactivations; no password kept

Earlier versions stored a SCIM user's ``password`` in the clear and kept ``active`` only in its
column: the data step removes every password from the stored resources and writes the column's
``active`` into them (the lifecycle now moves only on an asserted ``active``).

Revision ID: 0008_scim_unmatched
Revises: 0007_principals_notifications
Create Date: 2026-12-01 20:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008_scim_unmatched'
down_revision = '0007_principals_notifications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scim_unmatched',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offboarding_id', sa.Integer(), nullable=False),
    sa.Column('scim_user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('retry_until', sa.DateTime(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_tried_at', sa.DateTime(), nullable=True),
    sa.Column('matched_key', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['offboarding_id'], ['offboarding.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('offboarding_id')
    )
    with op.batch_alter_table('scim_unmatched', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_unmatched_state'), ['state'], unique=False)
    with op.batch_alter_table('scim_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reactivations', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reactivated_at', sa.DateTime(), nullable=True))
    _scrub_scim_users()


def _scrub_scim_users() -> None:
    table = sa.table('scim_user', sa.column('id', sa.String()), sa.column('active', sa.Boolean()),
                     sa.column('resource', sa.JSON()))
    conn = op.get_bind()
    for row in conn.execute(sa.select(table.c.id, table.c.active, table.c.resource)).all():
        resource = row.resource if isinstance(row.resource, dict) else {}
        kept = {k: v for k, v in resource.items() if k.lower() not in ('password', 'active')}
        kept['active'] = bool(row.active)
        if kept != resource:
            conn.execute(table.update().where(table.c.id == row.id).values(resource=kept))


def downgrade() -> None:
    with op.batch_alter_table('scim_user', schema=None) as batch_op:
        batch_op.drop_column('reactivated_at')
        batch_op.drop_column('reactivations')
    with op.batch_alter_table('scim_unmatched', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_unmatched_state'))
    op.drop_table('scim_unmatched')
