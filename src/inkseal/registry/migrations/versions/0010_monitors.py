"""monitors: watched sites / feeds / pages, their pages (validators, hash, frontier), runs, discovery documents, notifiers

Revision ID: 0010
Revises: 0009

New tables only (see inkseal.registry.monitors); nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'monitors',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('every_s', sa.Integer(), nullable=False),
        sa.Column('max_pages', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'monitor_pages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('monitor_id', sa.Integer(), sa.ForeignKey('monitors.id', ondelete='CASCADE'), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('url_key', sa.String(64), nullable=False),
        sa.Column('etag', sa.Text(), nullable=True),
        sa.Column('last_modified', sa.Text(), nullable=True),
        sa.Column('content_hash', sa.String(64), nullable=True),
        sa.Column('pending', sa.String(10), nullable=True),
        sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_fetched', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_changed', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_scanned', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.UniqueConstraint('monitor_id', 'url_key', name='uq_monitor_pages_monitor_url'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_monitor_pages_monitor_id', 'monitor_pages', ['monitor_id'])
    op.create_index('ix_monitor_pages_pending', 'monitor_pages', ['pending'])
    op.create_table(
        'monitor_runs',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('monitor_id', sa.Integer(), sa.ForeignKey('monitors.id', ondelete='CASCADE'), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('phase', sa.String(20), nullable=False),
        sa.Column('after_match_id', sa.Integer(), nullable=False),
        sa.Column('counts', sa.Text(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_monitor_runs_monitor_id', 'monitor_runs', ['monitor_id'])
    op.create_table(
        'monitor_documents',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('monitor_id', sa.Integer(), sa.ForeignKey('monitors.id', ondelete='CASCADE'), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('url_key', sa.String(64), nullable=False),
        sa.Column('etag', sa.Text(), nullable=True),
        sa.Column('last_modified', sa.Text(), nullable=True),
        sa.Column('body_sha256', sa.String(64), nullable=False),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('monitor_id', 'url_key', name='uq_monitor_documents_monitor_url'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_monitor_documents_monitor_id', 'monitor_documents', ['monitor_id'])
    op.create_table(
        'monitor_notifiers',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('secret', sa.String(100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for name in ('monitor_notifiers', 'monitor_documents', 'monitor_runs', 'monitor_pages', 'monitors'):
        op.drop_table(name)
