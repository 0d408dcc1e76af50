"""indexes for the committee's desk: all cases, what each person has done, the dashboard

Revision ID: f7d3e5c1a9b2
Revises: f5a1b2c3d4e5
Create Date: 2026-12-06 02:50:00

The all-cases list reads case_file newest first (keyset on created_at, id), per procedure,
stage and status; "done" reads the human tasks a person completed, newest first; the
dashboard reads admissions by date and tasks by completion. Indexes only: no data changes.
"""
from alembic import op


revision = 'f7d3e5c1a9b2'
down_revision = 'f5a1b2c3d4e5'
branch_labels = None
depends_on = None

INDEXES = (
    # With the columns the counts read, so that counting the newest thousand reads no table row.
    ('ix_case_file_created', 'case_file',
     ['created_at', 'id', 'applicant_id', 'model_id', 'stage', 'status', 'outcome_code']),
    ('ix_case_file_model_created', 'case_file', ['model_id', 'created_at', 'id']),
    ('ix_case_file_status_created', 'case_file', ['status', 'created_at', 'id']),
    ('ix_case_file_stage_created', 'case_file',
     ['stage', 'created_at', 'id', 'applicant_id', 'model_id', 'status', 'outcome_code']),
    ('ix_case_file_name', 'case_file', ['name']),
    ('ix_case_file_funnel', 'case_file', ['status', 'stage', 'model_id']),
    ('ix_human_task_done_by', 'human_task', ['completed_by_id', 'completed_at']),
    ('ix_human_task_claimed', 'human_task', ['claimed_by_id', 'state']),
    ('ix_human_task_stage_done', 'human_task', ['state', 'stage', 'completed_at']),
    ('ix_human_task_overdue', 'human_task',
     ['state', 'due_at', 'stage', 'lane', 'assignee_id', 'claimed_by_id']),
    ('ix_member_admitted_on', 'member', ['admitted_on']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
