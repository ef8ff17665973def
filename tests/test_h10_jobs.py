"""Background jobs against the real desk (uvicorn on 127.0.0.1, huey consumer threads, a real registry):
a scan job streams progress then done over SSE; cancel works; a job survives a restart of the server;
another user's job is 404."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path

import httpx
from PIL import Image

from h10jobs import desk, gated_site, wait_job, wait_until
from h9web import accounts_for, attacked_copy, client, png_bytes, user_with_token
from inkseal import Inkseal
from inkseal.registry.jobs import JobStore


def _png(path: Path) -> bytes:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def _sse(c: httpx.Client, job_id: int) -> list[tuple[str, dict]]:
    """Every event of the job's stream, until the server ends it."""
    events, name = [], "message"
    with c.stream("GET", f"/api/v1/jobs/{job_id}/events") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def test_scan_job_streams_progress_then_done_and_is_private(backend_app: Inkseal, kodak: list[Path]) -> None:
    """On SQLite (huey's SqliteHuey) and PostgreSQL (huey's PostgresHuey, in the same database)."""
    app = backend_app
    accounts = accounts_for(app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    with desk(app) as (base, _), client(base, token_a) as a, client(base, token_b) as b:
        assert a.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).status_code == 201
        files = [("file", ("copy.jpg", attacked_copy(kodak[0]), "image/jpeg")),
                 ("file", ("other.png", kodak[5].read_bytes(), "image/png")),
                 ("file", ("broken.png", b"not an image at all", "image/png")),
                 ("file", ("../../etc/passwd", png_bytes(), "image/png"))]
        r = a.post("/api/v1/jobs/scan", files=files)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]

        events = _sse(a, job_id)
        kinds = [k for k, _ in events]
        assert kinds[-1] == "done" and set(kinds[:-1]) == {"progress"} and kinds.count("done") == 1
        done = events[-1][1]
        assert done["state"] == "done" and done["done"] == done["total"] == 4
        progress = [e["done"] for k, e in events if k == "progress"]
        assert progress == sorted(progress)  # it only moves forward

        job = a.get(f"/api/v1/jobs/{job_id}").json()
        assert job["state"] == "done" and job["result"]["items"] == 4
        assert [m["work_id"] for m in job["result"]["matches"]] == [1]
        failed = job["result"]["failed"]
        assert len(failed) == 1 and failed[0]["item"].endswith("broken.png")
        assert str(app.settings.home) not in json.dumps(job)  # no server path leaks
        match = a.get(f"/api/v1/matches/{job['result']['matches'][0]['id']}")
        assert match.status_code == 200 and re.fullmatch(r"upload:[0-9a-f]{16}/copy\.jpg", match.json()["suspect"]["source"])
        case = a.get(f"/api/v1/cases/{match.json()['case_id']}").text
        for text in (match.text, case, a.get("/api/v1/matches").text):
            assert str(app.settings.home) not in text  # the upload's name, not the server's path
        assert [j["id"] for j in a.get("/api/v1/jobs").json()["items"]] == [job_id]
        assert not (app.settings.home / "jobs" / f"job{job_id}" / "in").exists()  # uploads are not kept

        # another user: the job is absent everywhere
        assert b.get("/api/v1/jobs").json()["items"] == []
        for method, path in (("GET", f"/api/v1/jobs/{job_id}"), ("GET", f"/api/v1/jobs/{job_id}/events"),
                             ("POST", f"/api/v1/jobs/{job_id}/cancel"), ("GET", f"/api/v1/jobs/{job_id}/result")):
            r = b.request(method, path)
            assert r.status_code == 404 and r.json()["error"]["en"] == f"no job {job_id}", (method, path, r.text)

        # bad requests: one clear line each, nothing queued
        assert a.post("/api/v1/jobs/scan", data={"url": "ftp://example.com/x.png"}).status_code == 422
        assert a.post("/api/v1/jobs/scan", data={}).status_code == 422
        assert len(a.get("/api/v1/jobs").json()["items"]) == 1


def test_cancel_a_queued_and_a_running_job(app: Inkseal, kodak: list[Path]) -> None:
    accounts = accounts_for(app)
    token = user_with_token(accounts, "ana")
    images = {"a.png": _png(kodak[1]), "b.png": _png(kodak[2]), "c.png": _png(kodak[3])}
    with gated_site(images) as site:
        urls = [f"{site.base}/a.png", f"{site.base}/gate/b.png", f"{site.base}/c.png"]
        # queued (no consumer yet): cancelled at once, and never runs later
        with desk(app, run_jobs=False, allow_private_targets=True) as (base, _), client(base, token) as c:
            queued = c.post("/api/v1/jobs/scan", data={"url": urls[:1]}).json()["job_id"]
            r = c.post(f"/api/v1/jobs/{queued}/cancel").json()
            assert r["state"] == "cancelled" and r["finished"]
        # running: stopped at its next step
        with desk(app, allow_private_targets=True) as (base, _), client(base, token) as c:
            running = c.post("/api/v1/jobs/scan", data={"url": urls}).json()["job_id"]
            assert site.waiting.wait(180), "the job never reached the gated page"
            assert c.get(f"/api/v1/jobs/{running}").json()["state"] == "running"
            assert c.post(f"/api/v1/jobs/{running}/cancel").json()["cancel_requested"] is True
            site.gate.set()
            job = wait_job(c, running)
            assert job["state"] == "cancelled" and job["done"] < 3, job
            assert c.get(f"/api/v1/jobs/{queued}").json()["state"] == "cancelled"
            again = c.post(f"/api/v1/jobs/{running}/cancel")
            assert again.status_code == 200 and again.json()["state"] == "cancelled"  # cancelling twice is harmless


def test_jobs_survive_a_server_restart(app: Inkseal, kodak: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from inkseal.web import jobs

    monkeypatch.setattr(jobs, "SCAN_JOB_BATCH", 1)  # one source per batch: the restart falls between two
    accounts = accounts_for(app)
    token = user_with_token(accounts, "ana")
    images = {"a.jpg": attacked_copy(kodak[0]), "b.png": _png(kodak[2])}  # a.jpg: a copy of the work sealed below
    with gated_site(images) as site:
        # 1. queued while no consumer runs, server stopped: the next server runs it to the end
        with desk(app, run_jobs=False) as (base, _), client(base, token) as c:
            work = c.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).json()["id"]
            assert c.post("/api/v1/keys", json={"passphrase": "p4ssphrase"}).status_code == 201
            # a seal's passphrase never leaves this server's memory: with no consumer here it runs on a thread here
            sealing = c.post(f"/api/v1/works/{work}/seal", json={"passphrase": "p4ssphrase", "signature": "Ana"})
            assert wait_job(c, sealing.json()["job_id"])["state"] == "done"
            waiting = c.post("/api/v1/jobs/scan", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")})
            waiting_id = waiting.json()["job_id"]
            assert c.get(f"/api/v1/jobs/{waiting_id}").json()["state"] == "queued"
        # a seal a server accepted just before it died: its row is all that is left, the passphrase is gone
        orphan = JobStore(app.registry).create(accounts.user("ana").id, "seal", {"work_id": work}, 1)
        # 2. running when the server stops: a scan is queued again (never left "running"), then run again
        with desk(app, allow_private_targets=True) as (base, desk_app), client(base, token) as c:
            job = wait_job(c, waiting_id)
            assert job["state"] == "done" and len(job["result"]["matches"]) == 1
            lost = wait_job(c, orphan.id)
            assert lost["state"] == "interrupted" and "start it again" in lost["error"] and "请重新开始" in lost["error"]
            assert "p4ssphrase" not in (app.settings.home / "jobs.huey.sqlite").read_bytes().decode("latin-1")
            running_id = c.post("/api/v1/jobs/scan",
                                data={"url": [f"{site.base}/a.jpg", f"{site.base}/gate/b.png"]}).json()["job_id"]
            assert site.waiting.wait(180)
            queue = desk_app.state.jobs
            threading.Thread(target=lambda: (queue.stopping.wait(180), site.gate.set()), daemon=True).start()
        with desk(app, run_jobs=False) as (base, _), client(base, token) as c:
            job = c.get(f"/api/v1/jobs/{running_id}").json()
            assert job["state"] == "queued" and "runs again" in job["step"] and not job["finished"], job
            assert c.get(f"/api/v1/jobs/{waiting_id}").json()["state"] == "done"
        with desk(app, allow_private_targets=True) as (base, _), client(base, token) as c:
            job = wait_job(c, running_id)
            assert job["state"] == "done" and job["result"]["items"] == 2 and job["result"]["failed"] == [], job
            # resumed, not redone: the batch done before the restart was not fetched again, and is in the result
            assert site.requests.count("/a.jpg") == 1 and site.requests.count("/gate/b.png") == 2, site.requests
            assert len(job["result"]["scan_ids"]) == 2 and job["result"]["scan_id"] == job["result"]["scan_ids"][0]
            # the copy found by the server that stopped is in the result of the one that finished
            assert [m["suspect"]["source"] for m in job["result"]["matches"]] == [f"{site.base}/a.jpg"], job["result"]
        assert not (app.settings.home / "jobs" / f"job{running_id}" / jobs.SCANNED_FILE).exists()


def test_a_scan_left_running_by_a_dead_server_is_run_again(app: Inkseal, kodak: list[Path]) -> None:
    """The process dies (no clean shutdown): the next consumer to start runs its scan again."""
    import os
    import signal
    import subprocess
    import sys

    from h9web import _free_port

    token = user_with_token(accounts_for(app), "ana")
    port = _free_port()
    env = dict(os.environ, INKSEAL_HOME=str(app.settings.home))
    with gated_site({"a.png": _png(kodak[1])}) as site:
        proc = subprocess.Popen([sys.executable, "-m", "inkseal", "serve", "--port", str(port), "--allow-private-targets"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"

            def up() -> bool:
                try:
                    return httpx.get(f"{base}/api/v1/openapi.json", timeout=5).status_code == 200
                except httpx.HTTPError:
                    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "serve died"
                    return False

            wait_until(up, "inkseal serve to start")
            with client(base, token) as c:
                job_id = c.post("/api/v1/jobs/scan", data={"url": [f"{site.base}/gate/a.png"]}).json()["job_id"]
                assert site.waiting.wait(180)
                assert c.get(f"/api/v1/jobs/{job_id}").json()["state"] == "running"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
        site.gate.set()
        with desk(app, run_jobs=False) as (base, _), client(base, token) as c:
            assert c.get(f"/api/v1/jobs/{job_id}").json()["state"] == "running"  # nothing has looked yet
        with desk(app, allow_private_targets=True) as (base, _), client(base, token) as c:
            job = wait_job(c, job_id)
            assert job["state"] == "done" and job["result"]["items"] == 1 and job["result"]["failed"] == [], job


def test_an_account_cannot_scan_a_saved_page_that_points_inside_the_servers_network(app: Inkseal) -> None:
    # A saved page is read as "a page the user named": its links may go to any address. For an account on a
    # shared server that would be a way to make the server fetch http://127.0.0.1/... or the LAN: refused.
    accounts = accounts_for(app)
    token = user_with_token(accounts, "ana")
    page = b'<html><body><img src="http://127.0.0.1:9/secret.png"></body></html>'
    with desk(app) as (base, _), client(base, token) as a:
        r = a.post("/api/v1/jobs/scan", files={"file": ("page.html", page, "text/html")})
        assert r.status_code == 422 and "local user" in r.json()["error"]["en"]
        assert "内网" in r.json()["error"]["zh"]
        assert a.get("/api/v1/jobs").json()["items"] == []  # nothing was queued
