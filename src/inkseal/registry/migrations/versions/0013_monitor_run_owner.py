"""monitor_runs.owner / heartbeat: one process works a monitor's run at a time

Revision ID: 0013
Revises: 0012

A run records which process works it (host:pid) and when it last made progress. Another process that finds
the run unfinished takes it over only when that process is gone (same host: its pid no longer exists;
another host: no progress for the lease time), so two `monitor run` processes never fetch and scan the same
pages twice; a killed run is still resumed by the next one.
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('monitor_runs') as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(300), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('monitor_runs') as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('owner')
