"""messages are rendered when they are first mailed or listed, not inside the step: the outbox
keeps each message's template parameters and model version until then

Revision ID: e8b3d1f5a7c2
Revises: d2a7c4e9f1b3
Create Date: 2026-12-06 23:15:00

Rows written before keep their subject and body and need nothing else. The downgrade deletes
the messages not rendered yet: the older release has no way to write them (mail them, or open
the recipients' lists, before downgrading to keep them).
"""
from alembic import op
import sqlalchemy as sa


revision = 'e8b3d1f5a7c2'
down_revision = 'd2a7c4e9f1b3'
branch_labels = None
depends_on = None


def upgrade():
    # Rebuilt on SQLite (a column turns nullable); no table points at outbox_message.
    with op.batch_alter_table('outbox_message') as batch:
        batch.alter_column('subject', existing_type=sa.String(length=300), nullable=True)
        batch.alter_column('body', existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('version_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            'fk_outbox_message_version_id_model_version', 'model_version', ['version_id'], ['id']
        )


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE subject IS NULL OR body IS NULL")
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_constraint('fk_outbox_message_version_id_model_version', type_='foreignkey')
        batch.drop_column('version_id')
        batch.drop_column('params')
        batch.alter_column('body', existing_type=sa.Text(), nullable=False)
        batch.alter_column('subject', existing_type=sa.String(length=300), nullable=False)
