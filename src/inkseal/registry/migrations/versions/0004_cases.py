"""cases: one row per (work, place); ids never reused

Revision ID: 0004
Revises: 0003

Before this revision every re-scan stored the same copy again as a new match. Existing matches are
grouped into cases by `inkseal.registry.places.same_place`; a case takes the most decided status of
its matches (whitelisted > ignored > confirmed > new), and every match keeps its row as the case's
history of sightings. On SQLite, `works` is rebuilt with AUTOINCREMENT (batch mode) so that the id of
a removed work never comes back; PostgreSQL's SERIAL sequence never reuses ids already.
The registry runs migrations with SQLite's foreign keys off, so rebuilding `works` cascades nothing.
"""
from alembic import op
import sqlalchemy as sa

from inkseal.registry.places import Sighting, same_place

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

DECIDED = {"whitelisted": 3, "ignored": 2, "confirmed": 1, "new": 0}


def _build_cases(conn) -> None:  # type: ignore[no-untyped-def]
    rows = conn.execute(sa.text(
        "SELECT m.id, m.work_id, m.file_id, m.score, m.status, m.note, m.decided_at, m.created_at,"
        " s.sha256, s.source_kind, s.source, s.page_url, s.captured_at, s.seen_at"
        " FROM matches m JOIN suspects s ON s.id = m.suspect_id ORDER BY m.id")).all()
    groups: list[dict] = []  # each: work_id, matches, first sighting
    # Earlier sightings by (work, image URL) and by (work, bytes, site): the only ones `same_place` can
    # accept, so each match is compared with a few rows, not with every case (large registries).
    by_source: dict[tuple, list[tuple[int, Sighting]]] = {}
    by_bytes: dict[tuple, list[tuple[int, Sighting]]] = {}
    for r in rows:
        seen = Sighting(r.sha256, r.source_kind, r.source, r.page_url)
        near = by_source.get((r.work_id, seen.source), []) + by_bytes.get((r.work_id, seen.sha256, seen.host), [])
        found = [g for g, old in near if same_place(seen, old)]
        if found:
            gi = min(found)  # the oldest case, as the registry does
        else:
            gi = len(groups)
            groups.append({"work_id": r.work_id, "matches": [], "first": seen})
        groups[gi]["matches"].append(r)
        by_source.setdefault((r.work_id, seen.source), []).append((gi, seen))
        by_bytes.setdefault((r.work_id, seen.sha256, seen.host), []).append((gi, seen))
    for g in groups:
        ms = g["matches"]
        decided = max(ms, key=lambda m: (DECIDED.get(m.status, 0), m.id))
        best = max(ms, key=lambda m: (m.score, m.id))
        times = [m.captured_at or m.seen_at for m in ms]
        first, latest = g["first"], ms[-1]
        page = next((m.page_url for m in reversed(ms) if m.page_url), None)
        case_id = conn.execute(sa.text(
            "INSERT INTO cases (work_id, file_id, sha256, source_kind, page_url, image_url, host, first_seen,"
            " last_seen, times_seen, status, note, decided_at) VALUES (:w, :f, :sha, :kind, :page, :img, :host,"
            " :first, :last, :n, :status, :note, :decided) RETURNING id"),
            {"w": g["work_id"], "f": best.file_id, "sha": first.sha256, "kind": latest.source_kind, "page": page,
             "img": latest.source, "host": first.host, "first": min(times), "last": max(times), "n": len(ms),
             "status": decided.status if decided.status in DECIDED else "new", "note": decided.note,
             "decided": decided.decided_at}).scalar_one()
        conn.execute(sa.text("UPDATE matches SET case_id = :c, status = :s WHERE id IN (%s)"
                             % ",".join(str(int(m.id)) for m in ms)),
                     {"c": case_id, "s": decided.status if decided.status in DECIDED else "new"})


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('page_url', sa.Text(), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['work_files.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('work_id', 'host', 'sha256'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_cases_work_id', 'cases', ['work_id'], unique=False)
    op.create_table('case_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_case_checks_case_id', 'case_checks', ['case_id'], unique=False)
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_matches_case_id_cases', 'cases', ['case_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index('ix_matches_case_id', ['case_id'], unique=False)
    _build_cases(op.get_bind())
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table('works', recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass


def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_index('ix_matches_case_id')
        batch_op.drop_constraint('fk_matches_case_id_cases', type_='foreignkey')
        batch_op.drop_column('case_id')
    op.drop_index('ix_case_checks_case_id', table_name='case_checks')
    op.drop_table('case_checks')
    op.drop_index('ix_cases_work_id', table_name='cases')
    op.drop_table('cases')
