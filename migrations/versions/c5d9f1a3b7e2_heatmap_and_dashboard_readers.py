"""the heatmap's projection (timer waits, each task's version) and who sees the dashboard

Revision ID: c5d9f1a3b7e2
Revises: a4c8e2f1b3d7
Create Date: 2026-12-06 20:10:00

The heatmap counts and times each element of one version from the projection: human tasks
carry their instance's version (filled here from the instances), and waits on timer events get
their own rows from now on (waits begun before this revision have no record of their start and
are not counted); the cases at each element now are running counts kept by every step. Groups gain `sees_dashboard`, on for the secretariat and the council as the
regulations' statistics are theirs.
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


revision = 'c5d9f1a3b7e2'
down_revision = 'a4c8e2f1b3d7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_task') as batch:
        batch.add_column(sa.Column('version_id', sa.Integer(), nullable=True))
    op.execute(
        'UPDATE human_task SET version_id = (SELECT version_id FROM process_instance'
        ' WHERE process_instance.id = human_task.instance_id)'
    )
    op.create_index('ix_human_task_heatmap', 'human_task',
                    ['version_id', 'state', 'bpmn_id', 'completed_at', 'created_at', 'instance_id'])
    op.create_table(
        'timer_wait',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('bpmn_id', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('started_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('due_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.Column('ended_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_timer_wait_instance', 'timer_wait', ['instance_id', 'state'])
    op.create_index('ix_timer_wait_heatmap', 'timer_wait',
                    ['version_id', 'state', 'bpmn_id', 'ended_at', 'started_at', 'instance_id'])
    op.create_table(
        'element_count',
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('bpmn_id', sa.String(length=200), nullable=False),
        sa.Column('shard', sa.Integer(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('version_id', 'bpmn_id', 'shard'),
    )
    # The cases at each task now, counted once; steps keep the counts from here on.
    op.execute(
        'INSERT INTO element_count (version_id, bpmn_id, shard, cases)'
        ' SELECT version_id, bpmn_id, 0, COUNT(DISTINCT instance_id) FROM human_task'
        " WHERE state = 'ready' AND version_id IS NOT NULL GROUP BY version_id, bpmn_id"
    )
    # ALTER TABLE … ADD COLUMN in place: a batch's copy of the table would have to drop
    # user_group while the memberships point at it, which SQLite refuses once there are any.
    with op.batch_alter_table('user_group', recreate='never') as batch:
        batch.add_column(sa.Column('sees_dashboard', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE user_group SET sees_dashboard = TRUE WHERE key IN ('secretariat', 'council')")


def downgrade():
    # In place, as in upgrade() (DROP COLUMN: SQLite ≥ 3.35).
    with op.batch_alter_table('user_group', recreate='never') as batch:
        batch.drop_column('sees_dashboard')
    op.drop_table('element_count')
    op.drop_index('ix_timer_wait_heatmap', table_name='timer_wait')
    op.drop_index('ix_timer_wait_instance', table_name='timer_wait')
    op.drop_table('timer_wait')
    op.drop_index('ix_human_task_heatmap', table_name='human_task')
    with op.batch_alter_table('human_task', recreate='never') as batch:
        batch.drop_column('version_id')
