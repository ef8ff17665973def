"""Ids and keys that hold (issue 10, item 8): work and case ids never come back, migration 0004 builds
cases from duplicate matches without losing anything, the journal refuses unknown works and pictures
it never saw, and `keys backup` / `keys restore` move every key to a new home that then works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.registry.models import Case, Fingerprint, Match, WorkFile
from inkseal.registry.store import MIGRATIONS
from inkseal.seal.c2pa_sign import validate

PASS = "correct horse battery"
NOW = "2026-11-20 10:00:00+00:00"


def test_work_and_case_ids_are_never_reused(backend_app: Inkseal, kodak: list[Path]) -> None:
    from inkseal.registry.models import Match, Suspect

    app = backend_app
    ids = [app.register([p], author="Li").items[0].work_id for p in kodak[:2]]
    fid = app.work(ids[1]).files[0].id
    s = Suspect(sha256="ab" * 32, source_kind="url", source="https://x.example/a.jpg", location={}, width=1, height=1)
    (m,) = app.registry.record_matches(s, [Match(work_id=ids[1], file_id=fid, score=9.0, scores={}, localisation={})])
    app.remove_work(ids[1])  # the newest work, and with it the newest case
    again = app.register(kodak[2:3], author="Li").items[0].work_id
    assert again > ids[1]
    fid = app.work(again).files[0].id
    s = Suspect(sha256="ab" * 32, source_kind="url", source="https://x.example/a.jpg", location={}, width=1, height=1)
    (m2,) = app.registry.record_matches(s, [Match(work_id=again, file_id=fid, score=9.0, scores={}, localisation={})])
    assert m2.case_id > m.case_id  # type: ignore[operator]


def _database_at_0003(url: str) -> None:
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        run = lambda sql, **p: conn.execute(text(sql), p)  # noqa: E731
        run("INSERT INTO authors (id, name, created_at) VALUES (1, 'Li', :t)", t=NOW)
        for wid in (1, 2, 3):
            run("INSERT INTO works (id, author_id, title, registered_at) VALUES (:w, 1, :title, :t)",
                w=wid, title=f"w{wid}", t=NOW)
            run("INSERT INTO work_files (id, work_id, role, sha256, size_bytes, format, width, height, source_name,"
                " regions, created_at) VALUES (:w, :w, 'original', :s, 1, 'PNG', 8, 8, 'x.png', '{}', :t)",
                w=wid, s=str(wid) * 64, t=NOW)
            run("INSERT INTO fingerprints (id, file_id, signal, signal_version, variant, data)"
                " VALUES (:w, :w, 'pdq', 1, 'full', :d)", w=wid, d=bytes(33))  # a PDQ hash + quality
        # the same copy of work 1 stored by three scans (one decided `ignored`), the last one through
        # its page; one copy of work 2 elsewhere
        sightings = [(1, "a", "https://img.example/a.jpg", None, 1, "new"),
                     (2, "a", "https://img.example/a.jpg", "https://blog.example/p", 1, "ignored"),
                     (3, "b", "https://img.example/a.jpg", "https://blog.example/p", 1, "new"),
                     (4, "c", "https://other.example/c.jpg", "https://other.example/", 2, "confirmed")]
        for sid, sha, src, page, wid, status in sightings:
            run("INSERT INTO suspects (id, sha256, source_kind, source, page_url, location, width, height, seen_at)"
                " VALUES (:i, :s, 'page', :src, :page, '{}', 8, 8, :t)", i=sid, s=sha * 64, src=src, page=page,
                t=f"2026-11-2{sid} 10:00:00+00:00")
            run("INSERT INTO matches (id, suspect_id, work_id, file_id, score, scores, localisation, status, note,"
                " created_at) VALUES (:i, :i, :w, :w, 9.5, '{}', '{}', :st, '', :t)", i=sid, w=wid, st=status, t=NOW)
        if conn.dialect.name == "postgresql":  # explicit ids above: move the sequences past them
            for table in ("authors", "works", "work_files", "fingerprints", "suspects", "matches"):
                run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_builds_cases_and_keeps_everything(backend: str, request: pytest.FixtureRequest,
                                                          tmp_path: Path, kodak: list[Path]) -> None:
    from conftest import _new_pg_database

    url = (_new_pg_database(request.getfixturevalue("postgres_server")) if backend == "postgresql"
           else f"sqlite:///{tmp_path / 'old.sqlite'}")
    _database_at_0003(url)
    app = Inkseal.open(tmp_path / "home", db_url=url)
    try:
        # rebuilding `works` (SQLite) cascaded nothing away
        assert app.registry.count(WorkFile) == 3 and app.registry.count(Fingerprint) == 3
        assert app.registry.count(Match) == 4
        cases = app.cases()
        assert [(c.work_id, c.times_seen, c.status, c.page_url) for c in cases] == [
            (1, 3, "ignored", "https://blog.example/p"), (2, 1, "confirmed", "https://other.example/")]
        assert [m.status for m in app.matches(history=True)] == ["ignored"] * 3 + ["confirmed"]
        assert len(app.matches()) == 2
        if backend == "sqlite":
            with app.registry.engine.connect() as conn:
                ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'works'").scalar()
                assert "AUTOINCREMENT" in ddl
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        app.remove_work(3)
        assert app.register(kodak[:1], author="Li").items[0].work_id == 4
    finally:
        app.close()


def _cli(home: Path):  # type: ignore[no-untyped-def]
    r = CliRunner()
    return lambda *a: r.invoke(cli, ["--home", str(home), *a], catch_exceptions=False)


def test_journal_refuses_unknown_works_and_unjournaled_files(tmp_path: Path, kodak: list[Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    home = tmp_path / "home"
    run = _cli(home)
    assert run("keys", "init").exit_code == 0
    assert run("register", str(kodak[0]), "--author", "Li").exit_code == 0  # work 1
    assert run("register", str(kodak[1]), "--author", "Li").exit_code == 0  # work 2
    assert run("work", "remove", "2", "--yes").exit_code == 0
    for args in (("journal", "import", str(kodak[0]), "--work", "2"),  # removed: its id is gone for good
                 ("journal", "import", str(kodak[0]), "--work", "99"),
                 ("journal", "curate", "99", "selected", "--note", "x")):
        res = run(*args)
        assert res.exit_code != 0 and "no work" in res.output and "Traceback" not in res.output, args
        assert len([line for line in res.output.splitlines() if line.strip()]) == 1, res.output
    res = run("journal", "curate", "1", "selected", "--file", str(kodak[2]))
    assert res.exit_code == 3 and "never journaled" in res.output
    res = run("journal", "curate", "1", "edited", "--file", str(kodak[3]), "--from", str(kodak[2]))
    assert res.exit_code == 3 and "never journaled" in res.output
    app = Inkseal.open(home)
    try:
        assert app.journal.entries() == []  # nothing was appended by the refusals
    finally:
        app.close()
    assert run("journal", "import", str(kodak[0]), "--work", "1").exit_code == 0
    assert run("journal", "curate", "1", "selected", "--file", str(kodak[0])).exit_code == 0
    assert run("register", str(kodak[4]), "--author", "Li", "--work", "1", "--role", "published").exit_code == 0
    assert run("journal", "curate", "1", "published", "--file", str(kodak[4]), "--where", "https://x.example/").exit_code == 0
    assert run("register", str(kodak[5]), "--author", "Li").exit_code == 0  # work 3 (never 2 again)
    res = run("journal", "curate", "3", "selected", "--file", str(kodak[0]))
    assert res.exit_code == 3 and "work 1" in res.output  # journaled for another work


def test_keys_backup_restore_into_a_new_home(tmp_path: Path, kodak: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    a, b = tmp_path / "a", tmp_path / "b"
    run_a, run_b = _cli(a), _cli(b)
    assert run_a("keys", "init").exit_code == 0
    assert run_a("register", str(kodak[3]), "--author", "Li").exit_code == 0
    sealed = tmp_path / "sealed.png"
    assert run_a("seal", "1", "-o", str(sealed), "--signature", "© Li").exit_code == 0
    # the sealed copy is registered as the work's published version: curating its publication is accepted
    assert run_a("journal", "curate", "1", "published", "--file", str(sealed), "--where", "https://x.example/").exit_code == 0
    backup = tmp_path / "keys.backup"
    res = run_a("keys", "backup", "-o", str(backup))
    assert res.exit_code == 0, res.output
    assert backup.stat().st_mode & 0o077 == 0 and b"BEGIN" not in backup.read_bytes()  # nothing in the clear
    assert run_a("keys", "backup", "-o", str(backup)).exit_code == 3  # never overwritten silently

    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    res = run_b("keys", "restore", str(backup), "--passphrase-file", str(wrong))
    assert res.exit_code == 3 and "wrong passphrase" in res.output and "Traceback" not in res.output
    damaged = tmp_path / "damaged"
    damaged.write_bytes(backup.read_bytes().replace(b'"ciphertext": "', b'"ciphertext": "AAAA'))
    assert run_b("keys", "restore", str(damaged)).exit_code == 3
    res = run_b("keys", "restore", str(backup))
    assert res.exit_code == 0, res.output
    res = run_b("keys", "restore", str(backup))
    assert res.exit_code == 3 and "--force" in res.output
    assert run_b("keys", "restore", str(backup), "--force").exit_code == 0

    ka, kb = (json.loads(r("keys", "show", "--json").stdout)["key_id"] for r in (run_a, run_b))
    assert ka == kb
    anchor_b = (b / "keys" / "c2pa" / "anchor.pem").read_bytes()
    assert validate(sealed.read_bytes(), "PNG", anchor_b)["state"] == "Trusted"
    # the new home goes on working: it seals with the restored keys, and reads the old copy's watermark
    assert run_b("register", str(kodak[3]), "--author", "Li").exit_code == 0
    resealed = tmp_path / "resealed.png"
    assert run_b("seal", "1", "-o", str(resealed), "--signature", "© Li").exit_code == 0
    anchor_a = (a / "keys" / "c2pa" / "anchor.pem").read_bytes()
    assert validate(resealed.read_bytes(), "PNG", anchor_a)["state"] == "Trusted"
    (rep,) = json.loads(run_b("inspect", str(sealed), "--json").stdout)
    assert rep["c2pa"]["state"] == "Trusted"
    assert rep["watermark"]["detected"] and rep["watermark"]["work_id"] == 1
    assert rep["watermark"]["false_positive_probability"] < 1e-6


def test_restore_never_replaces_the_key_a_journal_is_signed_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    a, c = tmp_path / "a", tmp_path / "c"
    for home in (a, c):
        app = Inkseal.open(home)
        app.keys.init(PASS)
        app.journal.append("note", {"text": "signed here"}, passphrase=PASS)
        app.close()
    backup = tmp_path / "a.backup"
    assert _cli(a)("keys", "backup", "-o", str(backup)).exit_code == 0
    res = _cli(c)("keys", "restore", str(backup), "--force")
    assert res.exit_code == 3 and "chain of keys" in res.output
    assert _cli(a)("keys", "restore", str(backup), "--force").exit_code == 0  # the same key: harmless
