"""Fingerprint ids never reused; works that older versions left without a file are removed, once.

Fingerprint ids key the search indexes: SQLite reused a removed file's top ids, so after a killed
removal a new file's vectors could meet the old ones under the same ids. AUTOINCREMENT ends that at the
source (PostgreSQL sequences never reuse ids).

Registration is atomic since revision 0003, so a work with no file and nothing that refers to it (no
journal entry, match or allowance) can only come from an older version killed between the work and its
file. They are removed here, once, instead of at every open, where a work made on purpose before its
files (`Registry.add_work`, to journal its making first) would be swept away before its first entry.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table('fingerprints', recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
    op.execute(
        "DELETE FROM works WHERE NOT EXISTS (SELECT 1 FROM work_files f WHERE f.work_id = works.id)"
        " AND NOT EXISTS (SELECT 1 FROM journal_entries j WHERE j.work_id = works.id)"
        " AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.work_id = works.id)"
        " AND NOT EXISTS (SELECT 1 FROM allowances a WHERE a.work_id = works.id)")


def downgrade() -> None:
    pass  # ids that were never reused stay valid; removed leftovers had nothing in them
