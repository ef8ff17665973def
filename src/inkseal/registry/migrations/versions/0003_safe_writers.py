"""safe concurrent writers: one file row per SHA-256, scan status and owner

Revision ID: 0003
Revises: 0002

Before this revision two `inkseal register` runs at the same moment could store the same bytes
twice (two works). Such duplicates are merged into the first file of those bytes: matches and
allowances move to it, the duplicate file row (and its fingerprints) goes, and a work left without
files goes too. Nothing else is touched; the stored bytes are content-addressed and stay.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _merge_duplicate_files(conn) -> None:  # type: ignore[no-untyped-def]
    dups = conn.execute(sa.text(
        "SELECT id, work_id, sha256 FROM work_files WHERE sha256 IN "
        "(SELECT sha256 FROM work_files GROUP BY sha256 HAVING COUNT(*) > 1) ORDER BY sha256, id")).all()
    keep: dict[str, tuple[int, int]] = {}
    for file_id, work_id, sha in dups:
        if sha not in keep:
            keep[sha] = (file_id, work_id)
            continue
        kept_file, kept_work = keep[sha]
        p = {"f": file_id, "w": work_id, "kf": kept_file, "kw": kept_work}
        conn.execute(sa.text("UPDATE matches SET file_id = :kf, work_id = :kw WHERE file_id = :f"), p)
        conn.execute(sa.text("DELETE FROM fingerprints WHERE file_id = :f"), p)
        conn.execute(sa.text("DELETE FROM work_files WHERE id = :f"), p)
        if conn.execute(sa.text("SELECT COUNT(*) FROM work_files WHERE work_id = :w"), p).scalar() == 0:
            conn.execute(sa.text("UPDATE matches SET work_id = :kw WHERE work_id = :w"), p)
            conn.execute(sa.text("UPDATE allowances SET work_id = :kw WHERE work_id = :w"), p)
            conn.execute(sa.text("DELETE FROM works WHERE id = :w"), p)


def upgrade() -> None:
    _merge_duplicate_files(op.get_bind())
    with op.batch_alter_table('work_files', schema=None) as batch_op:
        batch_op.drop_index('ix_work_files_sha256')
        batch_op.create_index('ix_work_files_sha256', ['sha256'], unique=True)
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('owner', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_column('owner')
        batch_op.drop_column('status')
    with op.batch_alter_table('work_files', schema=None) as batch_op:
        batch_op.drop_index('ix_work_files_sha256')
        batch_op.create_index('ix_work_files_sha256', ['sha256'], unique=False)
