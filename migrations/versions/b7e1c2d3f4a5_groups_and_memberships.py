"""groups and memberships: the committees become data

Revision ID: b7e1c2d3f4a5
Revises: 9c883df62bd0
Create Date: 2026-12-05 09:00:00

Until now a user's `roles` held the committees (secretariat, council, finance) beside the
platform roles. Each committee a user held becomes a group and an open-ended membership;
`roles` keeps only the platform roles.
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


revision = 'b7e1c2d3f4a5'
down_revision = '9c883df62bd0'
branch_labels = None
depends_on = None

# The committees the previous schema knew, with the names its pages showed.
COMMITTEES = {
    "secretariat": ("秘书处", "Secretariat"),
    "council": ("理事会", "Council"),
    "finance": ("财务", "Finance"),
}


def upgrade():
    op.create_table('user_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_group')),
    sa.UniqueConstraint('key', name=op.f('uq_user_group_key'))
    )
    op.create_table('group_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['user_group.id'], name=op.f('fk_group_membership_group_id_user_group')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_group_membership_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_membership'))
    )
    op.create_index('ix_group_membership_group', 'group_membership', ['group_id'], unique=False)
    op.create_index('ix_group_membership_user', 'group_membership', ['user_id'], unique=False)

    conn = op.get_bind()
    now = webapp.models.types.utcnow()
    users = conn.execute(sa.text("SELECT id, roles FROM user_account ORDER BY id")).all()
    held = {key for _, roles in users for key in (roles or "").split(",") if key in COMMITTEES}
    group_ids = {}
    for key in sorted(held):
        zh, en = COMMITTEES[key]
        conn.execute(
            sa.text("INSERT INTO user_group (key, name_zh, name_en, active, created_at) "
                    "VALUES (:key, :zh, :en, :active, :now)"),
            {"key": key, "zh": zh, "en": en, "active": True, "now": now.replace(tzinfo=None)},
        )
        group_ids[key] = conn.execute(
            sa.text("SELECT id FROM user_group WHERE key = :key"), {"key": key}
        ).scalar_one()
    for user_id, roles in users:
        keys = [r for r in (roles or "").split(",") if r]
        for key in keys:
            if key in COMMITTEES:
                conn.execute(
                    sa.text("INSERT INTO group_membership (group_id, user_id, created_at) "
                            "VALUES (:g, :u, :now)"),
                    {"g": group_ids[key], "u": user_id, "now": now.replace(tzinfo=None)},
                )
        platform = ",".join(k for k in keys if k not in COMMITTEES)
        conn.execute(sa.text("UPDATE user_account SET roles = :r WHERE id = :u"),
                     {"r": platform, "u": user_id})


def downgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT m.user_id, g.key FROM group_membership m JOIN user_group g ON g.id = m.group_id "
        "WHERE g.key IN ('secretariat', 'council', 'finance') AND m.ends_on IS NULL"
    )).all()
    for user_id, key in rows:
        roles = conn.execute(sa.text("SELECT roles FROM user_account WHERE id = :u"),
                             {"u": user_id}).scalar_one() or ""
        keys = [r for r in roles.split(",") if r]
        if key not in keys:
            conn.execute(sa.text("UPDATE user_account SET roles = :r WHERE id = :u"),
                         {"r": ",".join([*keys, key]), "u": user_id})
    op.drop_index('ix_group_membership_user', table_name='group_membership')
    op.drop_index('ix_group_membership_group', table_name='group_membership')
    op.drop_table('group_membership')
    op.drop_table('user_group')
