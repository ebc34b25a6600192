"""live assist: sessions (open ones kept across a restart with their turns, ended ones with their
result) and their events (dismissed hints, warnings sent anyway, live-board alerts)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assist_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('agent_code', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.String(length=10), nullable=True),
    sa.Column('rulebook_version', sa.Integer(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('stamp_times', sa.Boolean(), nullable=False),
    sa.Column('dismissed', sa.JSON(), nullable=False),
    sa.Column('alerts', sa.JSON(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assist_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assist_sessions_agent_code'), ['agent_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_sessions_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_sessions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_sessions_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_sessions_updated_at'), ['updated_at'], unique=False)

    op.create_table('assist_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('hint_id', sa.String(length=100), nullable=False),
    sa.Column('rule', sa.String(length=20), nullable=False),
    sa.Column('clause', sa.String(length=10), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['assist_sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assist_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assist_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_events_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_events_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_assist_events_session_id'), ['session_id'], unique=False)

    op.create_table('assist_turns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start', sa.Float(), nullable=True),
    sa.Column('end', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['assist_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'n')
    )
    with op.batch_alter_table('assist_turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assist_turns_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assist_turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assist_turns_session_id'))

    op.drop_table('assist_turns')
    with op.batch_alter_table('assist_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assist_events_session_id'))
        batch_op.drop_index(batch_op.f('ix_assist_events_rule'))
        batch_op.drop_index(batch_op.f('ix_assist_events_kind'))
        batch_op.drop_index(batch_op.f('ix_assist_events_at'))

    op.drop_table('assist_events')
    with op.batch_alter_table('assist_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assist_sessions_updated_at'))
        batch_op.drop_index(batch_op.f('ix_assist_sessions_team_id'))
        batch_op.drop_index(batch_op.f('ix_assist_sessions_status'))
        batch_op.drop_index(batch_op.f('ix_assist_sessions_agent_id'))
        batch_op.drop_index(batch_op.f('ix_assist_sessions_agent_code'))

    op.drop_table('assist_sessions')
