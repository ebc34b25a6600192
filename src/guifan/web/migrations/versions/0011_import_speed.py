"""import speed and big lists: an import job's total and the pace of its run (the time left), the
count of findings that stand kept on the conversation (the list sorts by it), and indexes that
serve every sort of the list in both directions with the row id as tie-break (keyset pages), a
team's list newest first, and the rule filter; PostgreSQL's statistics of the clause filter

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# The list's sort columns: the single-column index each had gives way to one with the id.
REPLACED = ('started_at', 'agent_code', 'auto_score', 'uncertain', 'review_status')
ADDED = ('final_score', 'imported_at', 'channel', 'standing')


def upgrade() -> None:
    op.add_column('import_jobs', sa.Column('total', sa.Integer(), nullable=True))
    op.add_column('import_jobs', sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('import_jobs', sa.Column('started_read', sa.Integer(), server_default='0', nullable=False))
    op.add_column('conversations', sa.Column('standing', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE conversations SET standing = (SELECT count(*) FROM findings WHERE "
               "findings.conversation_id = conversations.id AND findings.status != 'rejected')")
    for column in REPLACED:
        op.drop_index(f'ix_conversations_{column}', table_name='conversations')
    for column in REPLACED + ADDED:
        op.create_index(f'ix_conversations_{column}_id', 'conversations', [column, 'id'], unique=False)
    op.drop_index('ix_conversations_team_id', table_name='conversations')
    op.create_index('ix_conversations_team_id_started_at_id', 'conversations', ['team_id', 'started_at', 'id'],
                    unique=False)
    op.drop_index('ix_findings_rule', table_name='findings')
    op.create_index('ix_findings_rule_conversation_id', 'findings', ['rule', 'conversation_id'], unique=False)
    if _expression_statistics():
        # What the clause filter matches (a finding's clauses as text): without statistics PostgreSQL
        # guesses a handful of findings and hashes every one of them for a page of the list.
        op.execute('CREATE STATISTICS IF NOT EXISTS findings_clauses_text ON ((clauses)::varchar) FROM findings')


def downgrade() -> None:
    if _expression_statistics():
        op.execute('DROP STATISTICS IF EXISTS findings_clauses_text')
    op.drop_index('ix_findings_rule_conversation_id', table_name='findings')
    op.create_index('ix_findings_rule', 'findings', ['rule'], unique=False)
    op.drop_index('ix_conversations_team_id_started_at_id', table_name='conversations')
    op.create_index('ix_conversations_team_id', 'conversations', ['team_id'], unique=False)
    for column in REPLACED + ADDED:
        op.drop_index(f'ix_conversations_{column}_id', table_name='conversations')
    for column in REPLACED:
        op.create_index(f'ix_conversations_{column}', 'conversations', [column], unique=False)
    op.drop_column('conversations', 'standing')
    op.drop_column('import_jobs', 'started_read')
    op.drop_column('import_jobs', 'started_at')
    op.drop_column('import_jobs', 'total')


def _expression_statistics() -> bool:
    """PostgreSQL 14 and later keep statistics of an expression."""
    bind = op.get_bind()
    return bind.dialect.name == 'postgresql' and bind.dialect.server_version_info >= (14,)
