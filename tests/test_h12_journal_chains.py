"""Account journals live in the registry (migration 0011): chain 0 is the install's own, chain N account N's;
each chain's seq is gap-free and unique on its own, on SQLite and PostgreSQL; an older database keeps every entry
in chain 0 and still verifies; two chains never see each other's entries or checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError

from inkseal import Inkseal
from inkseal.journal import merkle
from inkseal.journal.log import canonical
from inkseal.registry.models import JournalEntry
from inkseal.registry.store import MIGRATIONS

PW = "chain passphrase"


def test_two_authors_two_chains_in_one_database(backend_app: Inkseal, kodak: list[Path]) -> None:
    app = backend_app
    first, second = (app.register([p], author="x").items[0].work_id for p in kodak[:2])
    app.keys.init(PW, creator="Install")
    ana = app.author(7)
    ana.keys.init(PW, creator="Ana")
    for i in range(3):
        app.journal.append("note", {"text": f"install {i}"}, work_id=first, passphrase=PW)
        ana.journal.append("note", {"text": f"ana {i}"}, work_id=second, passphrase=PW)
    app.journal.checkpoint(PW)
    ana.journal.checkpoint(PW)
    ana.journal.append("note", {"text": "ana 3"}, work_id=second, passphrase=PW)

    mine, hers = app.journal.entries(), ana.journal.entries()
    assert [e["seq"] for e in mine] == [0, 1, 2] and [e["seq"] for e in hers] == [0, 1, 2, 3]
    assert {e["data"]["text"][:3] for e in mine} == {"ins"} and {e["data"]["text"][:3] for e in hers} == {"ana"}
    assert app.journal.verify().ok and ana.journal.verify().ok
    assert app.journal.verify().current_key == app.keys.key_id()
    assert ana.journal.verify().current_key == ana.keys.key_id() != app.keys.key_id()
    assert len(app.journal.bundle().checkpoints) == 1 and len(ana.journal.bundle().checkpoints) == 1
    with app.registry.session() as s:  # one table, two chains
        rows = s.execute(select(JournalEntry.chain, JournalEntry.seq)).all()
    assert sorted(rows) == [(0, 0), (0, 1), (0, 2), (7, 0), (7, 1), (7, 2), (7, 3)]
    assert not (app.settings.home / "accounts" / "7" / "journal.sqlite").exists()


def test_an_older_database_keeps_its_journal_in_chain_zero(tmp_path: Path) -> None:
    db = tmp_path / "home" / "registry.sqlite"
    db.parent.mkdir()
    engine = create_engine(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:  # a journal written before accounts had chains (schema 0010)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
        for seq in (0, 1):
            raw = canonical({"v": 1, "seq": seq, "kind": "note", "time": "2026-11-01T00:00:00Z", "work_id": None,
                             "file_sha256": None, "data": {"text": f"old {seq}"}})
            conn.execute(text("INSERT INTO journal_entries (seq, kind, payload, leaf_hash) VALUES (:s, 'note', :p, :l)"),
                         {"s": seq, "p": raw.decode(), "l": merkle.leaf_hash(raw).hex()})
    engine.dispose()
    app = Inkseal.open(tmp_path / "home")  # opening migrates to head
    try:
        with app.registry.session() as s:
            assert s.execute(select(JournalEntry.chain, JournalEntry.seq)).all() == [(0, 0), (0, 1)]
        app.keys.init(PW)
        assert app.journal.append("note", {"text": "new"}, passphrase=PW) == 2  # the chain goes on
        assert [e["data"]["text"] for e in app.journal.entries()] == ["old 0", "old 1", "new"]
        app.journal.checkpoint(PW)  # the old unsigned entries are covered by a signed tree head
        report = app.journal.verify()
        assert report.ok, report.as_dict()
        assert app.author(3).journal.entries() == []  # an account's chain starts empty
        with app.registry.session() as s, pytest.raises(IntegrityError), s.begin():  # (chain, seq) stays unique
            s.add(JournalEntry(chain=0, seq=1, kind="note", payload="{}", leaf_hash="0" * 64))
    finally:
        app.close()
