"""delegation: a substitute for a period

Revision ID: c4d5e6f7a8b9
Revises: b7e1c2d3f4a5
Create Date: 2026-12-05 09:30:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


revision = 'c4d5e6f7a8b9'
down_revision = 'b7e1c2d3f4a5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('delegation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('substitute_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
    sa.Column('withdrawn_at', webapp.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['substitute_id'], ['user_account.id'], name=op.f('fk_delegation_substitute_id_user_account')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_delegation_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegation'))
    )
    op.create_index('ix_delegation_substitute', 'delegation', ['substitute_id', 'ends_on'], unique=False)


def downgrade():
    op.drop_index('ix_delegation_substitute', table_name='delegation')
    op.drop_table('delegation')
