"""the register keeps members' details and the history of their status and details

Revision ID: 7d3e9a1c5b20
Revises: f7a1b2c3d4e5
Create Date: 2026-12-06 02:45:00

A member's contact details and identifiers are copied from its admission case into the register
(existing members get them from their case's data here); every later change of status or detail
is a row of history saying who, when, why and in which case. A certificate keeps the name it was
issued under, so that a re-issue after a change of name leaves the old one as it was printed.
The register's filters and searches get their indexes, for paging through 100,000 members.
"""
from alembic import op
import sqlalchemy as sa


revision = '7d3e9a1c5b20'
down_revision = 'f7a1b2c3d4e5'
branch_labels = None
depends_on = None

DETAILS = (
    ('legal_representative', 100),
    ('contact_person', 100),
    ('phone', 30),
    ('email', 254),
    ('address', 300),
    ('credit_code', 18),
    ('id_number', 18),
)
INDEXES = {
    'ix_member_status_id': ['status', 'id'],
    'ix_member_type_id': ['member_type', 'id'],
    'ix_member_region_id': ['region', 'id'],
    'ix_member_industry_id': ['industry', 'id'],
    'ix_member_name': ['name'],
    'ix_member_credit_code': ['credit_code'],
    'ix_member_id_number': ['id_number'],
}


def _history(name, columns):
    op.create_table(
        name,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        *columns,
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=f'fk_{name}_member_id_member'),
        sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=f'fk_{name}_case_id_case_file'),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=f'fk_{name}_actor_id_user_account'),
        sa.PrimaryKeyConstraint('id', name=f'pk_{name}'),
    )
    op.create_index(f'ix_{name}_member_id', name, ['member_id'])
    op.create_index(f'ix_{name}_case_id', name, ['case_id'])


def upgrade():
    for column, length in DETAILS:
        op.add_column('member', sa.Column(column, sa.String(length), nullable=True))
    for name, columns in INDEXES.items():
        op.create_index(name, 'member', columns)
    _history('member_status_change', [
        sa.Column('from_status', sa.String(20), nullable=True),
        sa.Column('to_status', sa.String(20), nullable=False),
    ])
    _history('member_detail_change', [
        sa.Column('field', sa.String(40), nullable=False),
        sa.Column('old_value', sa.Text(), nullable=True),
        sa.Column('new_value', sa.Text(), nullable=True),
    ])
    _copy_details()
    # A certificate bears the name its member had when it was issued.
    op.add_column('certificate', sa.Column('holder_name', sa.String(200), nullable=True))
    op.execute(
        'UPDATE certificate SET holder_name = '
        '(SELECT member.name FROM member WHERE member.id = certificate.member_id)'
    )


def _copy_details():
    """Members admitted before keep what their application said."""
    bind = op.get_bind()
    members = sa.table('member', sa.column('id', sa.Integer), sa.column('case_id', sa.Integer),
                       *(sa.column(c, sa.String) for c, _ in DETAILS))
    cases = sa.table('case_file', sa.column('id', sa.Integer), sa.column('data', sa.JSON))
    rows = bind.execute(
        sa.select(members.c.id, cases.c.data).join(cases, cases.c.id == members.c.case_id)
    ).all()
    for member_id, data in rows:
        if not isinstance(data, dict):
            continue
        values = {
            c: str(data[c])[:length] for c, length in DETAILS if isinstance(data.get(c), str) and data[c]
        }
        if values:
            bind.execute(members.update().where(members.c.id == member_id).values(**values))


def downgrade():
    op.drop_column('certificate', 'holder_name')
    op.drop_table('member_detail_change')
    op.drop_table('member_status_change')
    for name in INDEXES:
        op.drop_index(name, 'member')
    # Not in batch mode: on SQLite that copies the member table, which others refer to
    # (SQLite 3.35+ drops a column in place).
    for column, _length in reversed(DETAILS):
        op.drop_column('member', column)
