"""A case's timeline over the API (GET /api/v1/cases/{id}/history): its sightings, every decision and re-check with
their times (migration 0012 keeps each one); another user's case is 404 (the OpenAPI sweep in test_h10_api covers the path as well)."""

from __future__ import annotations

from pathlib import Path

from h10jobs import desk
from h9web import accounts_for, attacked_copy, client, user_with_token
from inkseal import Inkseal


def test_case_history_lists_sightings_checks_and_status(app: Inkseal, kodak: list[Path]) -> None:
    accounts = accounts_for(app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    with desk(app) as (base, _), client(base, token_a) as a, client(base, token_b) as b:
        assert a.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).status_code == 201
        copy = attacked_copy(kodak[0])
        first = a.post("/api/v1/scans", files={"file": ("a.jpg", copy, "image/jpeg")}).json()["matches"][0]
        second = a.post("/api/v1/scans", files={"file": ("b.jpg", copy, "image/jpeg")}).json()["matches"][0]
        case = first["case_id"]
        assert second["case_id"] == case

        history = a.get(f"/api/v1/cases/{case}/history").json()
        assert [e["event"] for e in history["events"]] == ["first_seen", "seen"]
        assert [e["match_id"] for e in history["events"]] == [first["id"], second["id"]]
        assert history["status"] == "new" and history["complete"] is True and set(history["note"]) == {"en", "zh"}

        assert a.post(f"/api/v1/cases/{case}", json={"status": "confirmed", "note": "mine"}).status_code == 200
        events = a.get(f"/api/v1/cases/{case}/history").json()["events"]
        assert [(e["event"], e.get("status")) for e in events][-1] == ("status", "confirmed")
        assert events[-1]["note"] == "mine" and events[-1]["at"] >= events[1]["at"]

        for step in ("notice_sent", "still_online", "removed"):
            assert a.post(f"/api/v1/cases/{case}", json={"status": step}).status_code == 200, step
        history = a.get(f"/api/v1/cases/{case}/history").json()
        assert [(e["event"], e.get("status") or e.get("result")) for e in history["events"]] == [
            ("first_seen", None), ("seen", None), ("status", "confirmed"), ("status", "notice_sent"),
            ("check", "still_online"), ("check", "removed")]
        assert [e.get("previous") for e in history["events"] if e["event"] == "status"] == ["new", "confirmed"]
        assert history["complete"] is True
        assert history["status"] == "removed"
        times = [e["at"] for e in history["events"]]
        assert times == sorted(times)

        r = b.get(f"/api/v1/cases/{case}/history")
        assert r.status_code == 404 and set(r.json()["error"]) == {"en", "zh"}


def test_migration_0012_keeps_the_one_decision_older_versions_kept(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from inkseal.registry.store import MIGRATIONS
    from inkseal.web.api import case_history

    db = tmp_path / "home" / "registry.sqlite"
    db.parent.mkdir()
    engine = create_engine(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    t = "2026-11-20 10:00:00+00:00"
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
        run = lambda sql, **p: conn.execute(text(sql), p)  # noqa: E731
        run("INSERT INTO authors (id, name, created_at) VALUES (1, 'Li', :t)", t=t)
        run("INSERT INTO works (id, author_id, title, registered_at) VALUES (1, 1, 'w', :t)", t=t)
        run("INSERT INTO work_files (id, work_id, role, sha256, size_bytes, format, width, height, source_name,"
            " regions, created_at) VALUES (1, 1, 'original', :s, 1, 'PNG', 8, 8, 'x.png', '{}', :t)", s="a" * 64, t=t)
        for cid, status, decided in ((1, "notice_sent", "2026-11-21 09:00:00+00:00"), (2, "new", None)):
            run("INSERT INTO cases (id, work_id, file_id, sha256, source_kind, page_url, image_url, host, first_seen,"
                " last_seen, times_seen, status, note, decided_at) VALUES (:c, 1, 1, :s, 'url', NULL, :u, 'x.example',"
                " :t, :t, 1, :st, 'sent by post', :d)", c=cid, s=str(cid) * 64, u=f"https://x.example/{cid}.jpg",
                t=t, st=status, d=decided)
    engine.dispose()
    app = Inkseal.open(tmp_path / "home")
    try:
        (kept,) = app.registry.case_decisions(1)
        assert (kept.status, kept.previous, kept.note, kept.backfilled) == ("notice_sent", None, "sent by post", True)
        assert app.registry.case_decisions(2) == []  # never decided: nothing to keep
        history = case_history(app, 1)
        assert history["complete"] is False and "not kept" in history["note"]["en"]
        app.set_case_status(1, "still_online")
        assert [d.status for d in app.registry.case_decisions(1)] == ["notice_sent", "still_online"]
        assert case_history(app, 2)["complete"] is True
    finally:
        app.close()
