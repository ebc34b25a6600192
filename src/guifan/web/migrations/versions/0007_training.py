"""training (陪练): practice attempts (answers, transcript, report card, abandoned ones kept),
company scenario versions (drafts and published) and practice assigned by team leads

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-13
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('training_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.String(length=64), nullable=False),
    sa.Column('clauses', sa.JSON(), nullable=False),
    sa.Column('assigned_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('training_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_assignments_user_id'), ['user_id'], unique=False)

    op.create_table('training_scenarios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('yaml', sa.Text(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scenario_id', 'version')
    )
    with op.batch_alter_table('training_scenarios', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_scenarios_published'), ['published'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_scenarios_scenario_id'), ['scenario_id'], unique=False)

    op.create_table('training_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.String(length=64), nullable=False),
    sa.Column('scenario_version', sa.Integer(), nullable=False),
    sa.Column('trial', sa.Boolean(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('clauses', sa.JSON(), nullable=False),
    sa.Column('rulebook_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('transcript', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('checklist', sa.JSON(), nullable=True),
    sa.Column('findings', sa.JSON(), nullable=True),
    sa.Column('faulted', sa.JSON(), nullable=True),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['training_assignments.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('training_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_attempts_scenario_id'), ['scenario_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_attempts_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_attempts_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_attempts_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('training_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_attempts_user_id'))
        batch_op.drop_index(batch_op.f('ix_training_attempts_status'))
        batch_op.drop_index(batch_op.f('ix_training_attempts_started_at'))
        batch_op.drop_index(batch_op.f('ix_training_attempts_scenario_id'))

    op.drop_table('training_attempts')
    with op.batch_alter_table('training_scenarios', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_scenarios_scenario_id'))
        batch_op.drop_index(batch_op.f('ix_training_scenarios_published'))

    op.drop_table('training_scenarios')
    with op.batch_alter_table('training_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_assignments_user_id'))

    op.drop_table('training_assignments')
