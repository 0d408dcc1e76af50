"""the dashboard's funnel from running counts of cases in progress per procedure and stage

Revision ID: d2a7c4e9f1b3
Revises: c5d9f1a3b7e2
Create Date: 2026-12-06 21:20:00

case_stage_count holds how many cases of each procedure are in progress at each stage, moved by
every step; counted here once from case_file. The funnel read every case in progress (a scan
growing with the register: 155 ms at 100,000 cases on PostgreSQL). The stage times' index
also holds when each task began, so that reading a stage's latest thousand durations reads no
table row.
"""
from alembic import op
import sqlalchemy as sa


revision = 'd2a7c4e9f1b3'
down_revision = 'c5d9f1a3b7e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_stage_count',
        sa.Column('model_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=50), nullable=False),
        sa.Column('shard', sa.Integer(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('model_id', 'stage', 'shard'),
    )
    op.execute(
        "INSERT INTO case_stage_count (model_id, stage, shard, cases) "
        "SELECT COALESCE(model_id, 0), COALESCE(stage, ''), 0, COUNT(*) FROM case_file "
        "WHERE status = 'in_progress' GROUP BY COALESCE(model_id, 0), COALESCE(stage, '')"
    )
    op.drop_index('ix_human_task_stage_done', table_name='human_task')
    op.create_index('ix_human_task_stage_done', 'human_task',
                    ['state', 'stage', 'completed_at', 'created_at'])


def downgrade():
    op.drop_index('ix_human_task_stage_done', table_name='human_task')
    op.create_index('ix_human_task_stage_done', 'human_task', ['state', 'stage', 'completed_at'])
    op.drop_table('case_stage_count')
