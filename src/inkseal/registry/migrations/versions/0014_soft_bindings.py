"""soft_bindings: the C2PA soft bindings of sealed files, to find a manifest again from a stripped copy

Revision ID: 0014
Revises: 0013

When a file is sealed, each soft binding its manifest names (alg + base64 value, e.g. the keyless blind
watermark's message) gets a row here, with the active manifest's label and the SHA-256 of the manifest
store's bytes (kept in the object store). A copy whose metadata was stripped still carries the watermark:
reading it gives the value, the value gives the manifest (registry/bindings.py, the resolution API).
Rows go with their work or file (cascade).
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'soft_bindings',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('alg', sa.String(100), nullable=False),
        sa.Column('value', sa.String(200), nullable=False),
        sa.Column('work_id', sa.Integer(), sa.ForeignKey('works.id', ondelete='CASCADE'), nullable=False),
        sa.Column('file_id', sa.Integer(), sa.ForeignKey('work_files.id', ondelete='CASCADE'), nullable=False),
        sa.Column('manifest_label', sa.String(200), nullable=False),
        sa.Column('manifest_sha256', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('manifest_label', 'alg', 'value', name='uq_soft_bindings_manifest_alg_value'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_soft_bindings_alg_value', 'soft_bindings', ['alg', 'value'])
    op.create_index('ix_soft_bindings_work_id', 'soft_bindings', ['work_id'])  # cascades find their rows
    op.create_index('ix_soft_bindings_file_id', 'soft_bindings', ['file_id'])


def downgrade() -> None:
    op.drop_index('ix_soft_bindings_file_id', 'soft_bindings')
    op.drop_index('ix_soft_bindings_work_id', 'soft_bindings')
    op.drop_index('ix_soft_bindings_alg_value', 'soft_bindings')
    op.drop_table('soft_bindings')
