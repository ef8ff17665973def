"""`inkseal serve` runs due monitors: the job queue's periodic task runs each due monitor through the same
MonitorRunner as `monitor run --due` (its scans under the desk's WORK_LOCK), finds the copy, moves the monitor's
next run on; a tick while a run is still going does nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from h13monitor import Site, serve
from inkseal import Inkseal
from inkseal.registry.monitors import MonitorStore
from inkseal.web.jobs import JobQueue
from test_h13_monitor_crawl import KODAK, jpeg


def test_the_servers_periodic_task_runs_due_monitors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_MONITOR_RATE_PER_HOST", "0")
    monkeypatch.setenv("INKSEAL_MONITOR_RECHECK_CASES", "0")
    ink = Inkseal.open(tmp_path / "home")
    try:
        assert not ink.register(KODAK[:1], author="Kodak").failed
        queue = JobQueue(ink)
        assert "inkseal.run_due_monitors" in {t.name for t in queue.huey._registry.periodic_tasks}
        with serve(Site()) as site:
            site.put("/article", '<p>hello</p><img src="/data:x" data-src="/1.jpg">')
            site.put("/1.jpg", jpeg(KODAK[0], (360, 240)), "image/jpeg")
            store = MonitorStore(ink.registry)
            due = store.add(site.base + "/article", "page", 86400, 10)
            assert [m.id for m in store.due()] == [due.id]

            with queue._monitoring:  # a run is going on: this tick does nothing
                assert queue.run_due_monitors() == []
            assert queue.run_due_monitors() == [due.id]
            assert [m.work_id for m in ink.matches()] == [ink.works()[0].id]  # the lazy-loaded copy, found
            assert store.due() == []  # next run a day later
            assert queue.run_due_monitors() == []
    finally:
        ink.close()
