"""groups that keep the register; cases on notice say the notice's stage

Revision ID: e5f6a7b8c9d0
Revises: 41e9a262258a
Create Date: 2026-12-05 14:00:00

Which group keeps the register (certificates for anyone, audit trails, incidents) was the
platform's constant `secretariat`; it is now a flag of the group, set here for that group.
The timeline reads the notice's stage from the case's facts, which the diagram's notice timer
writes from now on; cases that were on notice before get what admission's diagram said then.
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5f6a7b8c9d0'
down_revision = '41e9a262258a'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'user_group',
        sa.Column('keeps_register', sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute("UPDATE user_group SET keeps_register = TRUE WHERE key = 'secretariat'")
    cases = sa.table('application', sa.column('id', sa.Integer), sa.column('facts', sa.JSON))
    bind = op.get_bind()
    for case_id, facts in bind.execute(sa.select(cases.c.id, cases.c.facts)).all():
        if isinstance(facts, dict) and facts.get('notice_closes_at') and 'notice_stage' not in facts:
            facts = {**facts, 'notice_stage': 'notice'}
            bind.execute(cases.update().where(cases.c.id == case_id).values(facts=facts))


def downgrade():
    # Not in batch mode: on SQLite that copies the table and drops the old one, which the
    # memberships refer to.
    op.drop_column('user_group', 'keeps_register')
