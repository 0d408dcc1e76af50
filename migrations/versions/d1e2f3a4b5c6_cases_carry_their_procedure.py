"""cases carry their procedure, title and subject member

Revision ID: d1e2f3a4b5c6
Revises: c4d5e6f7a8b9
Create Date: 2026-12-05 10:00:00

Every process instance's case row now says which procedure it is (the model), its title and
the member of the register it is about. Existing rows are all admissions: their model is the
one their instance's version belongs to.
"""
from alembic import op
import sqlalchemy as sa


revision = 'd1e2f3a4b5c6'
down_revision = 'c4d5e6f7a8b9'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # ADD COLUMN … REFERENCES, as SQLite allows: batch mode would copy the whole table and
        # drop the old one, which the rows of other tables refer to.
        op.execute('ALTER TABLE application ADD COLUMN model_id INTEGER REFERENCES process_model (id)')
        op.execute('ALTER TABLE application ADD COLUMN title VARCHAR(200)')
        op.execute('ALTER TABLE application ADD COLUMN subject_member_id INTEGER REFERENCES member (id)')
    else:
        op.add_column('application', sa.Column('model_id', sa.Integer(), nullable=True))
        op.add_column('application', sa.Column('title', sa.String(length=200), nullable=True))
        op.add_column('application', sa.Column('subject_member_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_application_model_id_process_model'), 'application', 'process_model', ['model_id'], ['id'])
        op.create_foreign_key(op.f('fk_application_subject_member_id_member'), 'application', 'member', ['subject_member_id'], ['id'])
    op.create_index(op.f('ix_application_model_id'), 'application', ['model_id'], unique=False)
    op.create_index(op.f('ix_application_subject_member_id'), 'application', ['subject_member_id'], unique=False)
    op.execute(
        "UPDATE application SET model_id = (SELECT model_version.model_id FROM process_instance "
        "JOIN model_version ON model_version.id = process_instance.version_id "
        "WHERE process_instance.id = application.instance_id)"
    )


def downgrade():
    op.drop_index(op.f('ix_application_subject_member_id'), table_name='application')
    op.drop_index(op.f('ix_application_model_id'), table_name='application')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('fk_application_subject_member_id_member'), 'application', type_='foreignkey')
        op.drop_constraint(op.f('fk_application_model_id_process_model'), 'application', type_='foreignkey')
    if op.get_bind().dialect.name == 'sqlite':
        # A later downgrade may have rebuilt the table, turning the columns' REFERENCES into
        # table constraints that SQLite's DROP COLUMN refuses: rebuild it without them (with
        # foreign keys off, or dropping the old copy would delete from the tables pointing at it).
        with op.get_context().autocommit_block():
            op.execute('PRAGMA foreign_keys=OFF')
        with op.batch_alter_table('application', recreate='always') as batch:
            batch.drop_column('subject_member_id')
            batch.drop_column('title')
            batch.drop_column('model_id')
        with op.get_context().autocommit_block():
            op.execute('PRAGMA foreign_keys=ON')
        return
    op.drop_column('application', 'subject_member_id')
    op.drop_column('application', 'title')
    op.drop_column('application', 'model_id')
