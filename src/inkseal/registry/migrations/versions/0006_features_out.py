"""Local features (ORB) out of the database, into the feature store on disk.

Each registered file had a ~55 KB ORB row (~66 GB at a million works) that only verification reads.
The rows are written to the feature store (features/orb-v<version>/ab/<sha256>, registry/objects.py)
and deleted, in batches of keyset-ordered rows so memory stays bounded at any size. The blobs are
made durable (one sync) before the migration's transaction deletes the rows for good; a crash before
the commit leaves the rows and some blobs, and the next open moves them again (a blob already there
is the same bytes). SSCD and PDQ rows stay: their ids key the search indexes.

The store's location comes from the Registry (`config.attributes["feature_store"]`). Run from the
`alembic` command line it is unknown: the rows are then kept (nothing is lost; inkseal reads features
from the store and recomputes missing ones from the stored originals, so kept rows are only dead weight).
The number of rows moved goes back in `config.attributes["features_moved"]`: the Registry then
decides whether a VACUUM is worth it (SQLite keeps the freed pages until then).

Revision ID: 0006
Revises: 0005
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from alembic import context, op
from sqlalchemy import bindparam, text

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 256  # rows in memory at once (~14 MB of ORB blobs)
DELETE_ROWS = text("DELETE FROM fingerprints WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))


def upgrade() -> None:
    store = context.config.attributes.get("feature_store")
    if store is None:
        logging.getLogger(__name__).warning("0006: feature store location unknown (alembic run outside inkseal):"
                                            " ORB rows kept")
        return
    with ThreadPoolExecutor(4) as writers:
        moved = _move_rows(op.get_bind(), store, writers)
    if moved:
        store.sync()  # every blob on disk before the commit deletes the rows
    context.config.attributes["features_moved"] = moved


def _move_rows(conn, store, writers: ThreadPoolExecutor) -> int:  # type: ignore[no-untyped-def]
    """Write each ORB row to the store and delete it, a keyset-ordered batch at a time; returns the count."""
    moved, last = 0, 0
    while True:
        rows = conn.execute(text(
            "SELECT f.id, f.signal_version, w.sha256, f.data FROM fingerprints f"
            " JOIN work_files w ON w.id = f.file_id"
            " WHERE f.signal = 'orb' AND f.variant = 'full' AND f.id > :last ORDER BY f.id LIMIT :n"),
            {"last": last, "n": BATCH}).all()
        if not rows:
            break
        # A few writer threads: creating files is most of the cost (~1.5 ms each on a VM disk) and overlaps.
        list(writers.map(lambda r: store.put("orb", r[1], r[2], bytes(r[3]), durable=False), rows))
        conn.execute(DELETE_ROWS, {"ids": [r[0] for r in rows]})
        moved += len(rows)
        last = rows[-1][0]
    return moved


def downgrade() -> None:
    store = context.config.attributes.get("feature_store")
    if store is None:
        raise RuntimeError("0006 downgrade needs the feature store (run it through inkseal's Registry)")
    conn = op.get_bind()
    last = 0
    while True:
        files = conn.execute(text(  # files that have no ORB row (rows kept by an upgrade without the store)
            "SELECT w.id, w.sha256 FROM work_files w WHERE w.id > :last AND NOT EXISTS (SELECT 1 FROM"
            " fingerprints f WHERE f.file_id = w.id AND f.signal = 'orb') ORDER BY w.id LIMIT :n"),
            {"last": last, "n": BATCH}).all()
        if not files:
            break
        for file_id, sha256 in files:
            blob = store.get("orb", 1, sha256)
            if blob is not None:  # missing: the older code cannot verify this file until it is registered again
                conn.execute(text("INSERT INTO fingerprints (file_id, signal, signal_version, variant, data)"
                                  " VALUES (:f, 'orb', 1, 'full', :d)"), {"f": file_id, "d": blob})
        last = files[-1][0]
