"""call audio: what the audio front end measured over a recording

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('conversations', sa.Column('audio', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('conversations', 'audio')
