"""a process owner's working copy of a model, saved without deploying

Revision ID: a8c4e2f6b1d3
Revises: f7d3e5c1a9b2
Create Date: 2026-12-06 20:10:00

One row per model; discarding or deploying empties it (bpmn NULL) and bumps its revision, which
a save checks to refuse writing over a copy another owner changed.
"""
import sqlalchemy as sa
from alembic import op

from webapp.models.types import UTCDateTime

revision = 'a8c4e2f6b1d3'
down_revision = 'f7d3e5c1a9b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'model_working_copy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('bpmn', sa.Text(), nullable=True),
        sa.Column('forms', sa.JSON(), nullable=True),
        sa.Column('base_number', sa.Integer(), nullable=True),
        sa.Column('last_action', sa.String(length=20), nullable=False),
        sa.Column('saved_by_id', sa.Integer(), nullable=True),
        sa.Column('saved_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['process_model.id']),
        sa.ForeignKeyConstraint(['saved_by_id'], ['user_account.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('model_id'),
    )


def downgrade():
    op.drop_table('model_working_copy')
