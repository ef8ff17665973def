"""Jobs survive a restart of the worker: a real `inkseal worker` process is killed (SIGKILL) in the middle of a scan,
a new one started; the scan is run again to the end. A seal, whose passphrase only the server's memory holds, runs
in the server (`serve --no-worker`), and a pack left by a server that died is marked interrupted with a reason in
both languages - never left "running". A webhook delivery still pending when
the server stops is made by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from h10jobs import WAIT_S, desk, gated_site, receiver, wait_job, wait_until
from h9web import accounts_for, attacked_copy, client, png_bytes, user_with_token
from inkseal import Inkseal
from inkseal.registry.jobs import JobStore, WebhookDelivery
from inkseal.registry.models import utcnow


@contextmanager
def worker(home: Path) -> Iterator[subprocess.Popen]:
    """`inkseal worker` in its own process (the desk runs with --no-worker)."""
    env = dict(os.environ, INKSEAL_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "inkseal", "worker", "--allow-private-targets"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT_S)


def test_a_killed_worker_s_scan_runs_again_in_the_next_worker(app: Inkseal, kodak: list[Path]) -> None:
    token = user_with_token(accounts_for(app), "ana")
    ana = accounts_for(app).user("ana")
    with gated_site({"a.png": png_bytes((96, 64))}) as site, \
            desk(app, run_jobs=False, allow_private_targets=True) as (base, _), client(base, token) as c:
        work = c.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).json()["id"]
        assert c.post("/api/v1/keys", json={"passphrase": "p4ssphrase"}).status_code == 201
        # the upload is scanned first, then the scan waits at the gated page: caught in the middle
        scan = c.post("/api/v1/jobs/scan", files={"file": ("copy.jpg", attacked_copy(kodak[0]), "image/jpeg")},
                      data={"url": [f"{site.base}/gate/a.png"]}).json()["job_id"]
        with worker(app.settings.home) as first:
            assert site.waiting.wait(WAIT_S), "the scan never reached the gated page"
            job = c.get(f"/api/v1/jobs/{scan}").json()
            assert job["state"] == "running" and job["done"] == 1, job
            first_case = c.get("/api/v1/cases").json()["items"][0]
            first.send_signal(signal.SIGKILL)
            first.wait(WAIT_S)
        # a seal needs the passphrase, which never leaves this server's memory: it runs here, worker or not
        seal = c.post(f"/api/v1/works/{work}/seal", json={"passphrase": "p4ssphrase", "signature": "Ana"}).json()
        assert wait_job(c, seal["job_id"])["state"] == "done"
        # ... and one a server accepted just before it was killed is left as a row without its passphrase
        orphan = JobStore(app.registry).create(ana.id, "pack", {"case_id": first_case["id"]}, 1).id
        assert c.get(f"/api/v1/jobs/{scan}").json()["state"] == "running"  # the dead worker left it so
        site.gate.set()

        with worker(app.settings.home) as second:
            job = wait_job(c, scan)
            assert job["state"] == "done" and job["result"]["items"] == 2 and job["result"]["failed"] == [], job
            assert [m["case_id"] for m in job["result"]["matches"]] == [first_case["id"]]  # the same case, seen again
            assert (app.settings.home / "jobs" / f"job{scan}" / "in").exists() is False  # uploads gone once done
            lost = wait_job(c, orphan)
            assert lost["state"] == "interrupted" and "start it again" in lost["error"] and "请重新开始" in lost["error"]
            assert "p4ssphrase" not in str(lost)
            second.send_signal(signal.SIGTERM)  # a clean stop: nothing is running, nothing changes
            assert second.wait(WAIT_S) == 0
        assert c.get(f"/api/v1/jobs/{scan}").json()["state"] == "done"
        wait_until(lambda: c.get("/api/v1/cases").json()["items"][0]["times_seen"] == 2, "the case's sightings")


def test_a_pending_webhook_delivery_is_resumed_after_a_restart(app: Inkseal, kodak: list[Path]) -> None:
    token = user_with_token(accounts_for(app), "ana")
    with receiver(fail_first=1) as rec:
        # the first attempt fails and the retry is due in an hour: the server stops before then
        with desk(app, allow_private_targets=True, webhook_retry_base_s=3600) as (base, _), client(base, token) as c:
            assert c.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}
                          ).status_code == 201
            made = c.post("/api/v1/webhooks", json={"url": rec.url}).json()
            hook, secret = made["id"], made["secret"]
            match = c.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")}
                           ).json()["matches"][0]
            pending = wait_until(lambda: [d for d in c.get(f"/api/v1/webhooks/{hook}").json()["deliveries"]
                                          if d["attempts"] == 1], "the first attempt")
            assert pending[0]["state"] == "pending" and pending[0]["last_status"] == 500
        assert [status for _h, _b, status in rec.got] == [500]
        # the hour passes while the server is down (the stored due time is moved, not the clock)
        with app.registry.writing("webhooks") as s:
            s.execute(update(WebhookDelivery).values(next_at=utcnow() - timedelta(seconds=1)))
        with desk(app, allow_private_targets=True, webhook_retry_base_s=3600) as (base, _), client(base, token) as c:
            delivered = wait_until(lambda: rec.verified(secret), "the delivery after the restart")
            assert [d["match"]["id"] for d in delivered] == [match["id"]]
            state = wait_until(lambda: [d for d in c.get(f"/api/v1/webhooks/{hook}").json()["deliveries"]
                                        if d["state"] == "delivered"], "the delivery to be recorded")
            assert state[0]["attempts"] == 2 and len(rec.got) == 2  # delivered once, not twice
