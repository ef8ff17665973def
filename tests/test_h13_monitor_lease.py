"""One process works a monitor's run at a time (migration 0013): a run held by a live process on this host, or by
another host that made progress within the lease, is refused with one line; a run whose process is gone (or whose
other host went quiet) is taken over and resumed."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from inkseal import Inkseal
from inkseal.registry.models import utcnow
from inkseal.registry.monitors import RUN_LEASE, MonitorBusy, MonitorRun, MonitorStore


def _hold(app: Inkseal, run_id: int, owner: str, beat_ago: timedelta = timedelta(0)) -> None:
    with app.registry.writing("monitors") as s:
        s.execute(update(MonitorRun).where(MonitorRun.id == run_id).values(owner=owner,
                                                                           heartbeat_at=utcnow() - beat_ago))


def test_a_run_has_one_worker_at_a_time(tmp_path: Path) -> None:
    app = Inkseal.open(tmp_path / "home")
    try:
        store = MonitorStore(app.registry)
        m = store.add("https://example.org/", "site", 3600, 10)
        run, resumed = store.open_run(m.id)
        assert not resumed and run.owner is not None
        assert store.open_run(m.id)[1]  # this very process: resumed, not refused

        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            _hold(app, run.id, f"{socket.gethostname()}:{sleeper.pid}")
            with pytest.raises(MonitorBusy, match="another process"):
                store.open_run(m.id)
        finally:
            sleeper.kill()
            sleeper.wait()
        again, resumed = store.open_run(m.id)  # its process is gone: taken over, resumed
        assert resumed and again.id == run.id

        _hold(app, run.id, "another-host.example:4242", timedelta(minutes=1))
        with pytest.raises(MonitorBusy):
            store.open_run(m.id)
        _hold(app, run.id, "another-host.example:4242", RUN_LEASE + timedelta(minutes=1))
        taken, resumed = store.open_run(m.id)  # the other host went quiet past the lease: taken over
        assert resumed and taken.id == run.id and taken.owner != "another-host.example:4242"
        assert len(store.runs(m.id)) == 1  # never a second run beside the first
    finally:
        app.close()
