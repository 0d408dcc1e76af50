"""messages know when their recipient read them: the navbar counts the unread ones; a deployed
version keeps its deploy comment

Revision ID: f5a1b2c3d4e5
Revises: 7d3e9a1c5b20
Create Date: 2026-12-06 03:00:00

Messages that existed before count as read: nobody should meet a badge for a year of history.
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


revision = 'f5a1b2c3d4e5'
down_revision = '7d3e9a1c5b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message') as batch:
        batch.add_column(sa.Column('read_at', webapp.models.types.UTCDateTime(), nullable=True))
        batch.create_index('ix_outbox_message_unread', ['recipient_id', 'read_at'])
    op.execute("UPDATE outbox_message SET read_at = created_at")
    with op.batch_alter_table('model_version') as batch:
        batch.add_column(sa.Column('deploy_comment', sa.String(length=500), nullable=True))


def downgrade():
    # Plain columns without constraints: dropped in place (SQLite 3.35+), never by copying
    # model_version, which the instances point at.
    op.drop_index('ix_outbox_message_unread', table_name='outbox_message')
    op.drop_column('outbox_message', 'read_at')
    op.drop_column('model_version', 'deploy_comment')
