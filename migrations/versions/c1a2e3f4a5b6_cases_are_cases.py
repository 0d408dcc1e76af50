"""cases are cases: the application table becomes case_file, application_id becomes case_id

Revision ID: c1a2e3f4a5b6
Revises: b69ec24ca597
Create Date: 2026-12-05 17:30:00

Every process instance carries a case, whatever its procedure: admission's applications were
the first. The table, the columns that point at it, and their indexes and constraints take the
case's name; nothing else changes and no row moves. A case the ticker starts about no one has
no applicant account.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c1a2e3f4a5b6'
down_revision = 'b69ec24ca597'
branch_labels = None
depends_on = None

# table -> is its case_id unique (one certificate, one member, one timer start per case)
POINTING = {
    'document': False,
    'member': True,
    'objection': False,
    'outbox_message': False,
    'certificate': True,
    'incident': False,
    'timer_start_case': True,
}
INDEXED = ('document', 'objection')  # ix_<table>_application_id
CASE_INDEXES = ('stage', 'admitted_at', 'notice_closes_at', 'model_id', 'subject_member_id')


def upgrade():
    _rename('application', 'case_file', 'application_id', 'case_id', 'ix_application_applicant', 'ix_case_file_applicant')
    with op.batch_alter_table('case_file') as batch:
        batch.alter_column('applicant_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    with op.batch_alter_table('case_file') as batch:
        batch.alter_column('applicant_id', existing_type=sa.Integer(), nullable=False)
    _rename('case_file', 'application', 'case_id', 'application_id', 'ix_case_file_applicant', 'ix_application_applicant')


def _rename(old, new, old_col, new_col, old_applicant_ix, new_applicant_ix):
    sqlite = op.get_bind().dialect.name == 'sqlite'
    # SQLite (3.26+) rewrites the other tables' REFERENCES when a table or column is renamed;
    # PostgreSQL keeps constraints by object, so only their names follow.
    op.rename_table(old, new)
    for table, unique in POINTING.items():
        op.execute(f'ALTER TABLE {table} RENAME COLUMN {old_col} TO {new_col}')
        if not sqlite:
            op.execute(
                f'ALTER TABLE {table} RENAME CONSTRAINT fk_{table}_{old_col}_{old} '
                f'TO fk_{table}_{new_col}_{new}'
            )
            if unique:
                op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT uq_{table}_{old_col} TO uq_{table}_{new_col}')
    for table in INDEXED:
        _rename_index(sqlite, f'ix_{table}_{old_col}', f'ix_{table}_{new_col}', table, [new_col])
    for column in CASE_INDEXES:
        _rename_index(sqlite, f'ix_{old}_{column}', f'ix_{new}_{column}', new, [column])
    _rename_index(sqlite, old_applicant_ix, new_applicant_ix, new, ['applicant_id', 'created_at'])
    if sqlite:
        _sqlite_constraint_names(old, new, old_col, new_col)
    else:
        op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}')
        for column, target in (('applicant_id', 'user_account'), ('instance_id', 'process_instance'),
                               ('model_id', 'process_model'), ('subject_member_id', 'member')):
            op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT fk_{old}_{column}_{target} TO fk_{new}_{column}_{target}')
        for column in ('instance_id', 'member_number'):
            op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT uq_{old}_{column} TO uq_{new}_{column}')


def _sqlite_constraint_names(old, new, old_col, new_col):
    """SQLite keeps constraint names only in each table's CREATE text: rebuild the tables whose
    constraints carry the old names. Foreign keys are off meanwhile, or dropping the old copy
    of the case table would delete from every table pointing at it; they are checked after."""
    with op.get_context().autocommit_block():
        op.execute('PRAGMA foreign_keys=OFF')
    for table, unique in POINTING.items():
        with op.batch_alter_table(table, recreate='always') as batch:
            batch.drop_constraint(f'fk_{table}_{old_col}_{old}', type_='foreignkey')
            batch.create_foreign_key(f'fk_{table}_{new_col}_{new}', new, [new_col], ['id'])
            if unique:
                batch.drop_constraint(f'uq_{table}_{old_col}', type_='unique')
                batch.create_unique_constraint(f'uq_{table}_{new_col}', [new_col])
    with op.batch_alter_table(new, recreate='always') as batch:
        # model_id and subject_member_id were added by ADD COLUMN … REFERENCES: unnamed here.
        for column, target in (('applicant_id', 'user_account'), ('instance_id', 'process_instance')):
            batch.drop_constraint(f'fk_{old}_{column}_{target}', type_='foreignkey')
            batch.create_foreign_key(f'fk_{new}_{column}_{target}', target, [column], ['id'])
        for column in ('instance_id', 'member_number'):
            batch.drop_constraint(f'uq_{old}_{column}', type_='unique')
            batch.create_unique_constraint(f'uq_{new}_{column}', [column])
    problems = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
    if problems:
        raise RuntimeError(f'rows point at missing cases after renaming: {problems[:5]}')
    with op.get_context().autocommit_block():
        op.execute('PRAGMA foreign_keys=ON')


def _rename_index(sqlite, old, new, table, columns):
    if sqlite:
        op.drop_index(old, table_name=table)
        op.create_index(new, table, columns, unique=False)
    else:
        op.execute(f'ALTER INDEX {old} RENAME TO {new}')
