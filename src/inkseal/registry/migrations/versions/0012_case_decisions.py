"""case_decisions: every move of a case along its workflow, with its time

Revision ID: 0012
Revises: 0011

Older versions kept only a case's latest decision (cases.status, decided_at, note). From now on each
change is a row of its own, so the desk's timeline and `case show` list every decision. The latest
decision of each case already decided is copied here, marked `backfilled` (what came before it was
never stored, and the timeline says so for those cases).
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_decisions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('previous', sa.String(20), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('backfilled', sa.Boolean(), nullable=False, server_default=sa.false()),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_case_decisions_case_id', 'case_decisions', ['case_id'])
    op.execute("INSERT INTO case_decisions (case_id, decided_at, status, previous, note, backfilled) "
               "SELECT id, decided_at, status, NULL, note, " + ("true" if op.get_bind().dialect.name == "postgresql"
                                                               else "1") +
               " FROM cases WHERE decided_at IS NOT NULL AND status <> 'new'")


def downgrade() -> None:
    op.drop_index('ix_case_decisions_case_id', 'case_decisions')
    op.drop_table('case_decisions')
