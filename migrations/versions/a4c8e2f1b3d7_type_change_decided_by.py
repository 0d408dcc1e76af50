"""a change of member type says which body decided it: a council vote's tally

Revision ID: a4c8e2f1b3d7
Revises: a8c4e2f6b1d3
Create Date: 2026-12-06 20:40:00

A change the council voted on was recorded with the council member whose vote completed the
step as its author; `decided_by` holds the deciding body and the vote's tally, so the register's
history says the council decided. Empty for changes one person decided (the secretariat).
"""
import sqlalchemy as sa
from alembic import op


revision = 'a4c8e2f1b3d7'
down_revision = 'a8c4e2f6b1d3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('member_detail_change') as batch:
        batch.add_column(sa.Column('decided_by', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('member_detail_change') as batch:
        batch.drop_column('decided_by')
