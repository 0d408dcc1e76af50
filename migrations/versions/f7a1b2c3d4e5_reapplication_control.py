"""re-application control: a case's identity (credit code or ID number) and re-application bans

Revision ID: f7a1b2c3d4e5
Revises: f7d1e2a3b4c5
Create Date: 2026-12-06 02:40:00

A submission check compares a new application's credit code or ID number with the register's
history, so each case keeps the identity it applied under (indexed), filled here for the cases
that already hold one in their data; an expulsion bars an identity from applying until a date.
A former member admitted again keeps its number (004: 终身一号), so two cases may carry the same
member number: case_file.member_number is indexed, no longer unique (member.member_number is).
"""
import json

from alembic import op
import sqlalchemy as sa

import webapp.models.types


revision = 'f7a1b2c3d4e5'
down_revision = 'f7d1e2a3b4c5'
branch_labels = None
depends_on = None


def _rebuild_case_file(change):
    """Run a change that rebuilds case_file; on SQLite with foreign keys off meanwhile, or
    dropping the old copy would delete from every table pointing at it (checked after)."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute('PRAGMA foreign_keys=OFF')
    with op.batch_alter_table('case_file', recreate='always' if sqlite else 'auto') as batch:
        change(batch)
    if sqlite:
        problems = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if problems:
            raise RuntimeError(f'rows point at missing cases after the rebuild: {problems[:5]}')
        with op.get_context().autocommit_block():
            op.execute('PRAGMA foreign_keys=ON')


def _member_number_shared(batch):
    batch.add_column(sa.Column('identity_code', sa.String(length=32), nullable=True))
    batch.create_index('ix_case_file_identity_code', ['identity_code'])
    batch.drop_constraint('uq_case_file_member_number', type_='unique')
    batch.create_index('ix_case_file_member_number', ['member_number'])


def _member_number_unique(batch):
    batch.drop_index('ix_case_file_member_number')
    batch.create_unique_constraint('uq_case_file_member_number', ['member_number'])
    batch.drop_index('ix_case_file_identity_code')
    batch.drop_column('identity_code')


def upgrade():
    _rebuild_case_file(_member_number_shared)
    op.create_table(
        'reapplication_ban',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('identity_code', sa.String(length=32), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', name='fk_reapplication_ban_member_id_member'), nullable=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('case_file.id', name='fk_reapplication_ban_case_id_case_file'), nullable=False),
        sa.Column('until', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('lifted_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.Column('lifted_case_id', sa.Integer(), sa.ForeignKey('case_file.id', name='fk_reapplication_ban_lifted_case_id_case_file'), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_reapplication_ban'),
    )
    op.create_index('ix_reapplication_ban_identity_code', 'reapplication_ban', ['identity_code'])
    op.create_index('ix_reapplication_ban_member_id', 'reapplication_ban', ['member_id'])
    op.create_index('ix_reapplication_ban_case_id', 'reapplication_ban', ['case_id'])
    # The identity of the cases submitted before: their data holds it.
    bind = op.get_bind()
    case_file = sa.table('case_file', sa.column('id', sa.Integer), sa.column('data', sa.JSON),
                         sa.column('identity_code', sa.String))
    for case_id, data in bind.execute(sa.select(case_file.c.id, case_file.c.data)).all():
        if isinstance(data, str):
            data = json.loads(data or '{}')
        code = ((data or {}).get('credit_code') or (data or {}).get('id_number') or '').strip().upper()
        if code:
            bind.execute(case_file.update().where(case_file.c.id == case_id).values(identity_code=code[:32]))


def downgrade():
    op.drop_index('ix_reapplication_ban_case_id', table_name='reapplication_ban')
    op.drop_index('ix_reapplication_ban_member_id', table_name='reapplication_ban')
    op.drop_index('ix_reapplication_ban_identity_code', table_name='reapplication_ban')
    op.drop_table('reapplication_ban')
    _rebuild_case_file(_member_number_unique)
