"""Keyset pagination of `works`, `matches` and `cases`: in the registry (SQLite and PostgreSQL) and the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal import cli as cli_mod
from inkseal.cli import app as cli
from inkseal.registry.models import Match, Suspect

runner = CliRunner()


def _fill(app: Inkseal, n: int) -> list[int]:
    """`n` works with one tiny file each (no fingerprints: listings do not need them) and one case each."""
    wids = []
    for i in range(n):
        data = f"work {i}".encode()
        done = app.registry.register_file(author="Li", title=f"w{i:03d}", created_at=None, work_id=None,
                                          role="original", data=data, sha256=hashlib.sha256(data).hexdigest(),
                                          fmt="PNG", width=1, height=1)
        wids.append(done.work_id)
        if i % 3 == 0:  # every third work was found once, on its own page
            s = Suspect(sha256=f"{i:064x}", source_kind="page", source=f"https://img.example/{i}.jpg",
                        page_url=f"https://blog.example/{i}", location={}, width=10, height=10)
            app.registry.record_matches(s, [Match(work_id=done.work_id, file_id=done.file_id, score=9.0, scores={},
                                                  localisation={})])
    return wids


def _pages(fetch, size: int) -> list[list[int]]:  # type: ignore[no-untyped-def]
    out, after = [], None
    while True:
        page = [r.id for r in fetch(after, size)]
        if not page:
            return out
        out.append(page)
        after = page[-1]


def test_registry_pages_cover_every_row_once(backend_app: Inkseal) -> None:
    app = backend_app
    wids = _fill(app, 23)
    pages = _pages(lambda a, n: app.works(after_id=a, limit=n), 5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3] and sum(pages, []) == wids
    assert sum(_pages(lambda a, n: app.matches(after_id=a, limit=n), 3), []) == [m.id for m in app.matches()]
    assert sum(_pages(lambda a, n: app.cases(after_id=a, limit=n), 2), []) == [c.id for c in app.cases()]
    assert len(app.cases()) == 8
    # filters and pages combine: a page of one work's matches, nothing after the last id
    one = app.matches(work_id=wids[3], limit=10)
    assert [m.work_id for m in one] == [wids[3]] and app.matches(work_id=wids[3], after_id=one[-1].id) == []


def _run(home: Path, *args: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--home", str(home), "--lang", lang, *args], catch_exceptions=False)


def test_cli_pages_and_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    wids = _fill(app, 130)
    app.close()

    r = _run(home, "works")  # a table shows the first 100 and says how to see more
    assert r.exit_code == 0 and "w099" in r.stdout and "w100" not in r.stdout
    assert f"--after {wids[99]}" in r.stderr
    r = _run(home, "works", "--after", str(wids[99]))
    assert "w100" in r.stdout and "w129" in r.stdout and "--after" not in r.stderr
    assert "下一页" in _run(home, "works", "--limit", "10", lang="zh").stderr

    page = json.loads(_run(home, "works", "--json", "--limit", "50", "--after", str(wids[9])).stdout)
    assert [w["id"] for w in page["items"]] == wids[10:60] and page["next_after"] == wids[59]
    last = json.loads(_run(home, "works", "--json", "--after", str(wids[119])).stdout)
    assert [w["title"] for w in last["items"]] == [f"w{i}" for i in range(120, 130)] and last["next_after"] is None

    monkeypatch.setattr(cli_mod, "STREAM_PAGE", 7)  # many small pages: nothing lost or doubled at the seams
    everything = json.loads(_run(home, "works", "--json").stdout)
    assert [w["id"] for w in everything] == wids and everything[5]["files"][0]["width"] == 1
    matches = json.loads(_run(home, "matches", "--json").stdout)
    assert len(matches) == 44 and len({m["id"] for m in matches}) == 44
    cases = json.loads(_run(home, "cases", "--json", "--limit", "40").stdout)
    assert len(cases["items"]) == 40 and cases["next_after"] == cases["items"][-1]["id"]
    rest = json.loads(_run(home, "cases", "--json", "--after", str(cases["next_after"])).stdout)
    assert len(rest["items"]) == 4 and rest["next_after"] is None
    assert json.loads(_run(home, "matches", "--json", "--limit", "1", "--after", "999999").stdout) == \
        {"items": [], "next_after": None}
    assert _run(home, "works", "--limit", "0").exit_code == 2  # usage error, not a traceback
