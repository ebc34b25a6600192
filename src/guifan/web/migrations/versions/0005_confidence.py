"""confidence and teaching: findings carry their confidence, evidence and whether they need review;
conversations count their open uncertain findings; reviewers' exemplar proposals

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Findings stored so far were exact (phrase) findings: certain, nothing to review first.
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidence', sa.Float(), nullable=False, server_default='1.0'))
        batch_op.add_column(sa.Column('evidence', sa.String(length=10), nullable=False, server_default='phrase'))
        batch_op.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.alter_column('confidence', server_default=None)
        batch_op.alter_column('evidence', server_default=None)
        batch_op.alter_column('needs_review', server_default=None)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uncertain', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_conversations_uncertain'), ['uncertain'], unique=False)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.alter_column('uncertain', server_default=None)

    op.create_table('exemplar_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('act', sa.String(length=40), nullable=False),
    sa.Column('side', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('proposed_by', sa.Integer(), nullable=True),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rulebook_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proposed_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('act', 'side', 'digest')
    )
    with op.batch_alter_table('exemplar_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exemplar_proposals_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('exemplar_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exemplar_proposals_status'))
    op.drop_table('exemplar_proposals')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_uncertain'))
        batch_op.drop_column('uncertain')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_column('needs_review')
        batch_op.drop_column('evidence')
        batch_op.drop_column('confidence')
