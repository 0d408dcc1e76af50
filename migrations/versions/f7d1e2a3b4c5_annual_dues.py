"""annual dues: one dues entry per member and year

Revision ID: f7d1e2a3b4c5
Revises: c1a2e3f4a5b6
Create Date: 2026-12-06 02:40:00

The yearly dues cycle opens an entry per active member; the arrears list reads it by state and
due date, never the workflows.
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


revision = 'f7d1e2a3b4c5'
down_revision = 'c1a2e3f4a5b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dues_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount_due', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('due_at', webapp.models.types.UTCDateTime(), nullable=False),
    sa.Column('confirmed_by_group', sa.String(length=50), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('declared_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('declared_reference', sa.String(length=100), nullable=True),
    sa.Column('declared_receipt', sa.String(length=36), nullable=True),
    sa.Column('declared_at', webapp.models.types.UTCDateTime(), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', webapp.models.types.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', webapp.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_dues_entry_case_id_case_file')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['user_account.id'], name=op.f('fk_dues_entry_confirmed_by_id_user_account')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_dues_entry_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dues_entry')),
    sa.UniqueConstraint('case_id', name=op.f('uq_dues_entry_case_id')),
    sa.UniqueConstraint('member_id', 'year', name='uq_dues_entry_member_year')
    )
    with op.batch_alter_table('dues_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dues_entry_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_dues_entry_state_due', ['state', 'due_at'], unique=False)
        batch_op.create_index('ix_dues_entry_year_state', ['year', 'state'], unique=False)


def downgrade():
    with op.batch_alter_table('dues_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_dues_entry_year_state')
        batch_op.drop_index('ix_dues_entry_state_due')
        batch_op.drop_index(batch_op.f('ix_dues_entry_member_id'))
    op.drop_table('dues_entry')
