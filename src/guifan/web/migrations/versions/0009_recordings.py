"""recordings: the file of an imported call recording, kept for the conversation page's player

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('conversations', sa.Column('recording', sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('conversations', 'recording')
