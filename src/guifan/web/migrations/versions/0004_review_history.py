"""review history and uploads on disk: re-imports keep earlier versions' review work; conversations
are found by a keyed hash of their id (the id people read may be masked); uploads stream to disk

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import hashlib
import hmac
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

KEY_SETTING = 'conversation_key_secret'


def upgrade() -> None:
    op.create_table('conversation_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('import_job_id', sa.Integer(), nullable=True),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['import_job_id'], ['import_jobs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'version')
    )
    with op.batch_alter_table('conversation_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_versions_conversation_id'), ['conversation_id'], unique=False)

    # Existing conversations get their key from the id they were imported with (stored as is before
    # this revision), under a secret made here and kept in the settings table.
    bind = op.get_bind()
    secret = secrets.token_hex(32)
    settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', sa.JSON))
    op.bulk_insert(settings, [{'key': KEY_SETTING, 'value': {'value': secret}}])
    op.add_column('conversations', sa.Column('external_key', sa.String(length=64), nullable=True))
    op.add_column('conversations', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    conversations = sa.table('conversations', sa.column('id', sa.Integer), sa.column('external_id', sa.String),
                             sa.column('external_key', sa.String))
    for row_id, external_id in bind.execute(sa.select(conversations.c.id, conversations.c.external_id)).all():
        key = hmac.new(secret.encode(), external_id.encode('utf-8'), hashlib.sha256).hexdigest()
        bind.execute(conversations.update().where(conversations.c.id == row_id).values(external_key=key))

    naming = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}  # SQLite's unnamed unique constraint
    with op.batch_alter_table('conversations', schema=None, naming_convention=naming) as batch_op:
        batch_op.alter_column('external_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('version', server_default=None)
        batch_op.drop_constraint('uq_conversations_external_id' if bind.dialect.name == 'sqlite'
                                 else 'conversations_external_id_key', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_conversations_external_key'), ['external_key'])
        batch_op.create_index(batch_op.f('ix_conversations_external_id'), ['external_id'], unique=False)

    op.add_column('import_jobs', sa.Column('outcomes', sa.JSON(), nullable=True))
    op.execute(sa.text("UPDATE import_jobs SET outcomes = '[]'"))
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.alter_column('outcomes', existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table('import_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('path', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('size', sa.Integer(), nullable=False, server_default='0'))
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table('import_files', schema=None) as batch_op:
        batch_op.alter_column('size', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('import_files', schema=None) as batch_op:
        batch_op.drop_column('size')
        batch_op.drop_column('path')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_column('outcomes')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_external_id'))
        batch_op.drop_constraint(batch_op.f('uq_conversations_external_key'), type_='unique')
        batch_op.create_unique_constraint('uq_conversations_external_id', ['external_id'])
        batch_op.drop_column('version')
        batch_op.drop_column('external_key')
    op.execute(sa.text(f"DELETE FROM settings WHERE key = '{KEY_SETTING}'"))
    with op.batch_alter_table('conversation_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_versions_conversation_id'))
    op.drop_table('conversation_versions')
