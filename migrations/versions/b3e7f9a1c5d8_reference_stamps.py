"""reference data carries a stamp the database sets anew on each change: processes keep the
working-day calendar and the groups' names between transactions while the stamp holds

Revision ID: b3e7f9a1c5d8
Revises: e8b3d1f5a7c2
Create Date: 2026-12-07 13:05:00

Triggers, not the services, set the stamps: a change made any way (an import, a hand-made
UPDATE, another release of the app) moves them.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b3e7f9a1c5d8'
down_revision = 'e8b3d1f5a7c2'
branch_labels = None
depends_on = None

# kind → the table whose changes it follows
KINDS = {'calendar': 'calendar_day', 'groups': 'user_group'}


def upgrade():
    op.create_table(
        'reference_stamp',
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('stamp', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_reference_stamp')),
    )
    for kind in KINDS:
        op.execute(f"INSERT INTO reference_stamp (kind, stamp) VALUES ('{kind}', 'initial')")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE FUNCTION reference_stamp_set() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE reference_stamp SET stamp = gen_random_uuid()::text "
            "WHERE kind = TG_ARGV[0]; RETURN NULL; END $$"
        )
        for kind, table in KINDS.items():
            op.execute(
                f"CREATE TRIGGER {table}_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION reference_stamp_set('{kind}')"
            )
    else:
        for kind, table in KINDS.items():
            for change in ('insert', 'update', 'delete'):
                op.execute(
                    f"CREATE TRIGGER {table}_stamp_{change} AFTER {change.upper()} ON {table} "
                    f"BEGIN UPDATE reference_stamp SET stamp = lower(hex(randomblob(16))) "
                    f"WHERE kind = '{kind}'; END"
                )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in KINDS.values():
            op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp ON {table}")
        op.execute("DROP FUNCTION IF EXISTS reference_stamp_set()")
    else:
        for table in KINDS.values():
            for change in ('insert', 'update', 'delete'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp_{change}")
    op.drop_table('reference_stamp')
