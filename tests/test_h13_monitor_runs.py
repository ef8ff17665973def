"""Monitor runs end to end: digests reach a real webhook (signed, retried) and a real SMTP server, one per
run; the CLI; a run killed mid-way goes on where it stopped; migration 0010 matches the models."""

from __future__ import annotations

import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from hashlib import sha256

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

import inkseal.cli_monitor  # noqa: F401  (registers `monitor` on the CLI)
from h13monitor import Hooks, Site, serve, smtp_server
from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.monitor.runs import MonitorRunner
from inkseal.monitor.settings import MonitorSettings
from inkseal.registry.models import Base
from inkseal.registry.monitors import MONITOR_TABLES, MonitorStore
from migrating import migrator
from test_h13_monitor_crawl import KODAK, jpeg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inkseal]:
    app = Inkseal.open(tmp_path_factory.mktemp("h13runs") / "home")
    assert not app.register(KODAK[:3], author="Kodak").failed
    yield app
    app.close()


def test_one_digest_per_run_by_signed_webhook_and_by_mail(home: Inkseal) -> None:
    hooks = Hooks(statuses=[500, 503])  # two failures, then delivered on the third attempt
    with serve(Site()) as site, hooks.serve() as hook_url, smtp_server() as (smtp_port, mails):
        b = site.base
        site.put("/", '<a href="/a">a</a><a href="/b">b</a><a href="/c">c</a>')
        site.put("/a", '<img src="/1.jpg">')
        site.put("/b", '<img src="/2.jpg"><img src="/1.jpg">')
        site.put("/c", '<p>nothing</p>')
        site.put("/1.jpg", jpeg(KODAK[0], (400, 266)), "image/jpeg")
        site.put("/2.jpg", jpeg(KODAK[1], (400, 266)), "image/jpeg")
        store = MonitorStore(home.registry)
        hook, secret = store.add_notifier("webhook", hook_url)
        store.add_notifier("email", "artist@example.org")
        settings = MonitorSettings(rate_per_host=0, recheck_cases=False, webhook_backoff_s=0.01,
                                   smtp_host="127.0.0.1", smtp_port=smtp_port, mail_from="inkseal@example.org")
        m = store.add(b + "/", "site", 3600, 50)
        r = MonitorRunner(home, settings).run(m.id)
        assert r.lines == [] and all(s.ok for s in r.sent), r.sent
        assert len(hooks.received) == 3  # 500, 503, 200: one digest, retried
        headers, body = hooks.received[-1]
        ts = headers["X-Inkseal-Timestamp"]
        expected = "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, sha256).hexdigest()  # type: ignore[union-attr]
        assert hmac.compare_digest(headers["X-Inkseal-Signature"], expected)
        d = json.loads(body)
        assert d["event"] == "monitor.digest" and d["new_matches"] == 2
        assert {(x["work_title"], x["page_url"], x["picture_url"], x["tier"]) for x in d["matches"]} == {
            ("kodim01", b + "/a", b + "/1.jpg", "copy"), ("kodim02", b + "/b", b + "/2.jpg", "copy")}
        assert len(mails) == 1
        mail = mails[0]
        assert mail["To"] == "artist@example.org" and "2" in mail["Subject"]
        text = mail.get_payload(decode=True).decode("utf-8")
        for needle in ("kodim01", "kodim02", b + "/a", b + "/2.jpg", "作品", "网页", "图片", "copy", "复制"):
            assert needle in text, needle
        # nothing new: no digest at all
        again = MonitorRunner(home, settings).run(m.id)
        assert again.sent == [] and len(hooks.received) == 3 and len(mails) == 1

        # a receiver that keeps failing: given up after webhook_attempts, one line, the run still done
        store.remove_notifier(hook.id)
        dead = Hooks(statuses=[500] * 10)
        with dead.serve() as dead_url:
            store.add_notifier("webhook", dead_url)
            site.put("/c", '<img src="/3.jpg">', validators="none")
            site.put("/3.jpg", jpeg(KODAK[2], (400, 266)), "image/jpeg")
            third = MonitorRunner(home, MonitorSettings(**{**settings.__dict__, "webhook_attempts": 3})).run(m.id)
        assert len(dead.received) == 3 and len(mails) == 2
        assert [line for line in third.lines if "failed after 3 attempt(s)" in line and "网络钩子" in line]
        assert store.runs(m.id)[-1].state == "done"
        for n in store.notifiers():
            store.remove_notifier(n.id)


def test_a_run_killed_while_notifying_sends_each_notifier_its_digest_once(home: Inkseal,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook got the digest, then the process died before the e-mail went out: the resumed run sends the
    e-mail only, and neither fetches nor scans again."""
    from inkseal.monitor import notify as notify_mod

    hooks = Hooks(statuses=[])
    with serve(Site()) as site, hooks.serve() as hook_url, smtp_server() as (smtp_port, mails):
        site.put("/", '<img src="/k.jpg">')
        site.put("/k.jpg", jpeg(KODAK[2], (380, 253)), "image/jpeg")
        store = MonitorStore(home.registry)
        for n in store.notifiers():
            store.remove_notifier(n.id)
        store.add_notifier("webhook", hook_url)
        store.add_notifier("email", "artist@example.org")
        settings = MonitorSettings(rate_per_host=0, recheck_cases=False, smtp_host="127.0.0.1", smtp_port=smtp_port,
                                   mail_from="inkseal@example.org")
        m = store.add(site.base + "/", "page", 3600, 5)
        real_send_email = notify_mod.send_email

        def killed(*a: object, **kw: object) -> None:
            raise SystemExit("killed while sending the e-mail")

        monkeypatch.setattr(notify_mod, "send_email", killed)
        with pytest.raises(SystemExit):
            MonitorRunner(home, settings).run(m.id)
        assert len(hooks.received) == 1 and mails == [] and store.runs(m.id)[-1].state == "running"
        requests_before = len(site.log)
        monkeypatch.setattr(notify_mod, "send_email", real_send_email)
        r = MonitorRunner(home, settings).run(m.id)
        assert r.resumed and [x["picture_url"] for x in r.new_matches] == [site.base + "/k.jpg"]
        assert len(hooks.received) == 1 and len(mails) == 1  # the webhook not again; the e-mail once
        assert [s.kind for s in r.sent] == ["email"] and any("not sent to them again" in i for i in r.info)
        assert len(site.log) == requests_before  # nothing fetched or scanned again
        assert store.runs(m.id)[-1].state == "done"
        assert json.loads(hooks.received[0][1])["run_id"] == r.run_id  # a receiver can tell the run
        for n in store.notifiers():
            store.remove_notifier(n.id)


def test_known_cases_are_rechecked_still_online_or_removed(home: Inkseal) -> None:
    with serve(Site()) as site:
        b = site.base
        site.put("/r", '<img src="/r.jpg">')
        site.put("/r.jpg", jpeg(KODAK[2], (410, 273)), "image/jpeg")
        store = MonitorStore(home.registry)
        m = store.add(b + "/r", "page", 3600, 5)
        settings = MonitorSettings(rate_per_host=0)
        first = MonitorRunner(home, settings).run(m.id)
        case_id = first.new_matches[0]["case_id"]
        assert first.counts["rechecked"] == 0  # a new case is not re-checked (it was just seen)
        home.set_case_status(case_id, "confirmed")
        site.clear_log()
        second = MonitorRunner(home, settings).run(m.id)
        assert second.counts["rechecked"] == 1 and site.hits("/r.jpg")
        assert [c.result for c in home.case(case_id).checks] == ["still_online"]
        site.routes.pop("/r.jpg")  # taken down
        third = MonitorRunner(home, settings).run(m.id)
        case = home.case(case_id)
        assert third.counts["rechecked"] == 1 and case.status == "removed"
        assert [c.result for c in case.checks] == ["still_online", "removed"] and case.checks[-1].checked_at


def _cli(home: Inkseal, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--home", str(home.settings.home), "monitor", *args])


def test_cli_add_list_run_due_remove(home: Inkseal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_MONITOR_RATE_PER_HOST", "0")
    with serve(Site()) as site:
        site.put("/solo", '<img src="/1.jpg">')
        site.put("/1.jpg", jpeg(KODAK[0], (360, 240)), "image/jpeg")
        res = _cli(home, "add", site.base + "/solo", "--kind", "page", "--every", "1d", "--json")
        assert res.exit_code == 0, res.output
        mid = json.loads(res.stdout)["id"]
        for bad in (["add", "file:///etc/passwd", "--kind", "page"], ["add", site.base, "--kind", "blog"],
                    ["add", site.base, "--every", "soon"]):
            res = _cli(home, *bad)
            assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        listed = json.loads(_cli(home, "list", "--json").stdout)
        assert [x["url"] for x in listed if x["id"] == mid] == [site.base + "/solo"]
        res = _cli(home, "run", "--due", "--json")
        assert res.exit_code == 0, res.output
        ran = {r["monitor_id"]: r for r in json.loads(res.stdout)}
        assert mid in ran and [x["page_url"] for x in ran[mid]["new_matches"]] == [site.base + "/solo"]
        res = _cli(home, "run", "--due", "--json")  # it ran: not due again for a day
        assert mid not in {r["monitor_id"] for r in json.loads(res.stdout)}
        site.routes.pop("/solo")  # now a 404: one line, exit code 1
        res = _cli(home, "run", str(mid))
        assert res.exit_code == 1 and "HTTP 404" in res.output and "Traceback" not in res.output
        assert _cli(home, "remove", str(mid)).exit_code == 0
        res = _cli(home, "remove", str(mid))
        assert res.exit_code != 0 and "no monitor" in res.output


def test_a_killed_run_goes_on_where_it_stopped(home: Inkseal) -> None:
    site = Site()
    pages = [f"/p{i}" for i in range(12)]
    with serve(site):
        site.put("/", "".join(f'<a href="{p}">{p}</a>' for p in pages))
        for i, p in enumerate(pages):
            site.put(p, f'<p>{i}</p><img src="/img{i}.jpg">')
            site.put(f"/img{i}.jpg", jpeg(KODAK[i % 3], (200 + i, 150)), "image/jpeg")
        site.delay = 0.25  # each request takes a while: the kill lands mid-scan
        m = MonitorStore(home.registry).add(site.base + "/", "site", 3600, 100)
        env = {**os.environ, "INKSEAL_MONITOR_RATE_PER_HOST": "0", "INKSEAL_MONITOR_SCAN_BATCH": "2",
               "INKSEAL_MONITOR_RECHECK_CASES": "0"}
        code = "import inkseal.cli_monitor; from inkseal.cli import main; main()"
        proc = subprocess.Popen([sys.executable, "-c", code, "--home", str(home.settings.home), "monitor", "run",
                                 str(m.id)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        db = sqlite3.connect(str(home.settings.home / "registry.sqlite"), isolation_level=None)
        try:
            deadline = time.monotonic() + 120  # a bound on a hang, not a timing assertion
            while time.monotonic() < deadline and proc.poll() is None:
                scanned = db.execute("SELECT count(*) FROM monitor_pages WHERE monitor_id=? AND last_scanned IS NOT "
                                     "NULL", (m.id,)).fetchone()[0]
                if scanned >= 2:
                    break
                time.sleep(0.02)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        left = db.execute("SELECT count(*) FROM monitor_pages WHERE monitor_id=? AND pending='scan'", (m.id,)).fetchone()[0]
        done_before = db.execute("SELECT count(*) FROM monitor_pages WHERE monitor_id=? AND last_scanned IS NOT NULL",
                                 (m.id,)).fetchone()[0]
        db.close()
        assert left > 0 and done_before >= 2
        crawled_before = [p for p, _s, ua in site.log if ua.startswith("inkseal-monitor") and p.startswith("/p")
                          and not ua.endswith(" scan")]  # the crawler's requests (a resumed scan asks for its pages again)
        site.delay = 0.0
        r = MonitorRunner(home, MonitorSettings(rate_per_host=0, recheck_cases=False, scan_batch=2)).run(m.id)
        assert r.resumed and r.counts["pages_scanned"] >= done_before + left
        store = MonitorStore(home.registry)
        assert all(p.pending is None and p.last_scanned is not None for p in store.page_states(m.id))
        assert store.runs(m.id)[-1].state == "done" and len(store.runs(m.id)) == 1
        crawled = [p for p, _s, ua in site.log if ua.startswith("inkseal-monitor") and p.startswith("/p")
                   and not ua.endswith(" scan")]
        assert sorted(crawled) == sorted(crawled_before) == sorted(pages)  # no page fetched again by the monitor
        assert len(r.new_matches) == 12  # every copy, found once over the two processes


def test_migration_0010_matches_the_models_and_goes_down_and_up(backend_app: Inkseal) -> None:
    from test_h9_web_migration import _table_of

    names = {t.name for t in MONITOR_TABLES}
    engine = backend_app.registry.engine
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if _table_of(d) in names] == []
    MonitorStore(backend_app.registry).add("https://example.org/", "site", 60, 5)
    migrate = migrator(engine)

    migrate(command.downgrade, "0009")
    present = set(inspect(engine).get_table_names())
    assert names.isdisjoint(present) and "works" in present
    migrate(command.upgrade, "head")
    assert names <= set(inspect(engine).get_table_names())
    assert MonitorStore(backend_app.registry).list() == []  # a downgrade drops the monitors (and only them)
