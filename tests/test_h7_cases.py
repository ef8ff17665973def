"""Cases (issue 10): one case per (work, place), whatever the number of sightings; a real workflow.

Run on a real SQLite file and a real PostgreSQL server; the races use real processes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.registry.models import Case, CaseCheck, Match, Suspect
from inkseal.registry.store import CaseRefused

ROOT = Path(__file__).resolve().parents[1]
IMG = "https://img.example/a.jpg"
PAGE = "https://blog.example/post/1"


def _sight(app: Inkseal, wid: int, fid: int, *, sha: str = "ab" * 32, kind: str = "page", source: str = IMG,
           page: str | None = PAGE, score: float = 9.0, when: datetime | None = None) -> Match:
    s = Suspect(sha256=sha, source_kind=kind, source=source, page_url=page, location={}, width=10, height=10,
                captured_at=when)
    (m,) = app.registry.record_matches(s, [Match(work_id=wid, file_id=fid, score=score, scores={}, localisation={})])
    return m


@pytest.fixture
def work(backend_app: Inkseal, kodak: list[Path]) -> tuple[Inkseal, int, int]:
    wid = backend_app.register(kodak[6:7], author="Li").items[0].work_id
    return backend_app, wid, backend_app.work(wid).files[0].id


def test_rescans_and_direct_vs_page_are_one_case(work: tuple[Inkseal, int, int]) -> None:
    app, wid, fid = work
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    first = _sight(app, wid, fid, page=None, when=t0)  # the image URL reached directly
    for i in range(1, 3):
        _sight(app, wid, fid, when=t0 + timedelta(days=i))  # then twice through its page
    _sight(app, wid, fid, sha="cd" * 32, when=t0 + timedelta(days=5))  # same URL on the page, re-encoded bytes
    (case,) = app.cases()
    assert case.times_seen == 4 and case.page_url == PAGE and case.image_url == IMG and case.host == "blog.example"
    assert case.first_seen.replace(tzinfo=UTC) == t0 and case.last_seen.replace(tzinfo=UTC) == t0 + timedelta(days=5)
    assert first.case_id == case.id
    assert [m.case_id for m in app.matches()] == [case.id]  # listings show one row per case...
    assert len(app.registry.matches(history=True)) == 4  # ...the sightings stay as history
    assert len(app.registry.case_matches(case.id)) == 4


def test_places_that_differ_are_separate_cases(work: tuple[Inkseal, int, int]) -> None:
    app, wid, fid = work
    a = _sight(app, wid, fid)
    b = _sight(app, wid, fid, source="https://other.example/x.jpg", page="https://other.example/p")  # same bytes, other site
    c = _sight(app, wid, fid, sha="ef" * 32, page="https://blog.example/post/2")  # same URL on another page, other bytes
    d = _sight(app, wid, fid, sha="ab" * 32, source=IMG, page="https://blog.example/post/3")  # same bytes, same site
    e = _sight(app, wid, fid, kind="file", source="/tmp/x/copy.jpg", page=None, sha="12" * 32)
    f = _sight(app, wid, fid, kind="file", source="/tmp/y/copy-again.jpg", page=None, sha="12" * 32)  # same bytes, local
    assert len({a.case_id, b.case_id, c.case_id}) == 3
    assert d.case_id == a.case_id and e.case_id == f.case_id
    assert len(app.cases()) == 4 and app.registry.count(Case) == 4


def test_decided_statuses_stay_decided(work: tuple[Inkseal, int, int]) -> None:
    app, wid, fid = work
    m = _sight(app, wid, fid)
    app.set_match_status(m.id, "ignored", note="my own repost")
    again = _sight(app, wid, fid)
    assert again.status == "ignored" and app.case(again.case_id).status == "ignored"
    assert app.matches(status="new") == [] and [x.id for x in app.matches(status="ignored")] == [again.id]
    m2 = _sight(app, wid, fid, sha="77" * 32, source="https://lic.example/a.png", page="https://lic.example/")
    app.set_case_status(m2.case_id, "whitelisted", note="licensed")
    assert app.registry.is_allowed(wid, "77" * 32, []) and app.registry.is_allowed(wid, "00" * 32, ["https://lic.example/"])
    assert _sight(app, wid, fid, sha="77" * 32, source="https://lic.example/a.png", page="https://lic.example/").status == "whitelisted"
    with pytest.raises(CaseRefused, match="whitelisted"):
        app.set_case_status(m2.case_id, "new")


def test_workflow_transitions_and_rechecks(work: tuple[Inkseal, int, int]) -> None:
    app, wid, fid = work
    cid = _sight(app, wid, fid).case_id
    with pytest.raises(CaseRefused) as refused:
        app.set_case_status(cid, "notice_sent")
    assert "\n" not in str(refused.value) and "new" in str(refused.value) and "confirmed" in str(refused.value)
    with pytest.raises(ValueError):
        app.set_case_status(cid, "maybe")
    for status in ("confirmed", "notice_sent"):
        app.set_case_status(cid, status)
    app.check_case(cid, "still_online", note="day 3")
    app.check_case(cid, "still_online", note="day 7")
    app.check_case(cid, "removed")
    app.set_case_status(cid, "settled", note="paid CNY 2,000")
    case = app.set_case_status(cid, "closed")
    assert case.status == "closed" and case.note == "paid CNY 2,000"
    assert [(k.result, k.note) for k in case.checks] == [("still_online", "day 3"), ("still_online", "day 7"),
                                                         ("removed", "")]
    assert all(k.checked_at is not None for k in case.checks)
    assert app.matches()[0].status == "closed"  # the match row mirrors its case
    with pytest.raises(CaseRefused):
        app.check_case(cid, "still_online")  # closed: reopen (confirmed) first
    app.remove_work(wid)
    assert app.registry.count(Case) == 0 and app.registry.count(CaseCheck) == 0


def test_three_real_scans_make_one_case_and_the_cli(app: Inkseal, kodak: list[Path], tmp_path: Path) -> None:
    wid = app.register(kodak[8:9], author="Li").items[0].work_id
    folder = tmp_path / "found"
    folder.mkdir()
    buf = io.BytesIO()
    Image.open(kodak[8]).convert("RGB").crop((100, 50, 700, 450)).save(buf, "JPEG", quality=60)
    (folder / "copy.jpg").write_bytes(buf.getvalue())
    for _ in range(3):
        assert len(app.scan([str(folder)]).matched) == 1
    (case,) = app.cases()
    assert case.times_seen == 3 and case.work_id == wid and case.status == "new"
    app.close()

    home = str(app.settings.home)
    r = CliRunner()
    run = lambda *a: r.invoke(cli, ["--home", home, *a], catch_exceptions=False)  # noqa: E731
    import json

    res = run("cases", "--json")
    assert res.exit_code == 0 and [c["times_seen"] for c in json.loads(res.stdout)] == [3]
    assert json.loads(run("matches", "--json").stdout)[0]["case_id"] == case.id
    assert len(json.loads(run("matches", "--history", "--json").stdout)) == 3
    res = run("case", "mark", str(case.id), "notice_sent")
    assert res.exit_code == 3 and "cannot become notice_sent" in res.output and "Traceback" not in res.output
    (m_id,) = [m["id"] for m in json.loads(run("matches", "--json").stdout)]
    assert run("match", "mark", str(m_id), "confirmed").exit_code == 0  # marking a match marks its case
    assert run("case", "mark", str(case.id), "notice_sent", "--note", "sent to the host").exit_code == 0
    res = run("case", "check", str(case.id), "--still-online")
    assert res.exit_code == 0 and "still online" in res.output
    assert run("case", "check", str(case.id)).exit_code == 2
    shown = json.loads(run("case", "show", str(case.id), "--json").stdout)
    assert shown["status"] == "still_online" and [k["result"] for k in shown["checks"]] == ["still_online"]
    assert len(shown["matches"]) == 3 and shown["note"] == "sent to the host"
    res = run("--lang", "zh", "cases")
    assert res.exit_code == 0 and "仍在线" in res.output
    assert json.loads(run("cases", "--status", "still_online", "--json").stdout)[0]["id"] == case.id
    assert run("case", "show", "999").exit_code == 3


RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from inkseal.registry.models import Match, Suspect
    from inkseal.registry.store import Registry
    url, objects, wid, fid, n, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    reg = Registry(url, Path(objects))
    while time.time() < start:
        time.sleep(0.005)
    for i in range(n):
        page = "https://blog.example/post/1" if i % 2 else None   # directly, and through the page
        s = Suspect(sha256="ab" * 32, source_kind="page", source="https://img.example/a.jpg", page_url=page,
                    location={}, width=10, height=10)
        reg.record_matches(s, [Match(work_id=wid, file_id=fid, score=9.0, scores={}, localisation={})])
    reg.close()
""")


def test_two_processes_recording_the_same_place_make_one_case(work: tuple[Inkseal, int, int]) -> None:
    import time

    app, wid, fid = work
    n = 12
    start = time.time() + 3  # both processes start recording at the same moment
    args = [sys.executable, "-c", RACER, app.registry.url, str(app.settings.objects_dir), str(wid), str(fid), str(n),
            str(start)]
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ}) for _ in range(2)]
    for p in procs:
        _out, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs
    (case,) = app.cases()
    assert case.times_seen == 2 * n and app.registry.count(Match) == 2 * n


def test_two_real_scans_at_once_make_one_case(tmp_path: Path, kodak: list[Path]) -> None:
    """Two `inkseal scan` processes over the same copy at the same time (SQLite): one case, seen twice."""
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[10:11], author="Li")
    app.close()
    folder = tmp_path / "found"
    folder.mkdir()
    Image.open(kodak[10]).convert("RGB").crop((60, 40, 660, 460)).save(folder / "copy.jpg", "JPEG", quality=70)
    env = {**os.environ, "INKSEAL_HOME": str(home)}
    env.pop("INKSEAL_DB_URL", None)
    cmd = [sys.executable, "-m", "inkseal", "scan", str(folder), "--json"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        stdout, errs = p.communicate(timeout=240)
        assert p.returncode == 0 and "Traceback" not in errs, errs
        assert len(__import__("json").loads(stdout)["matches"]) == 1
    app = Inkseal.open(home)
    try:
        (case,) = app.cases()
        assert case.times_seen == 2 and len(app.matches()) == 1 and len(app.matches(history=True)) == 2
    finally:
        app.close()
