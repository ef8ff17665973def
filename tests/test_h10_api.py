"""The API's phase-2 endpoints against the real desk: a work's journal, sealing as a job (what `inkseal seal`
does), evidence packs as jobs (what `inkseal evidence` builds) and their download; and, for EVERY path of the
OpenAPI document that takes an id (jobs and webhooks included), user B gets 404 on user A's object."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

from h10jobs import desk, receiver, wait_job
from h9web import accounts_for, sweep_as_other_user, attacked_copy, client, png_bytes, user_with_token
from inkseal import Inkseal

PASSPHRASE = "a passphrase for the tests"


def test_other_users_ids_are_404_on_every_path_jobs_and_webhooks_included(app: Inkseal, kodak: list[Path]) -> None:
    accounts = accounts_for(app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    with receiver() as rec, desk(app, allow_private_targets=True) as (base, _), \
            client(base, token_a) as a, client(base, token_b) as b:
        work = a.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).json()["id"]
        file_id = a.get(f"/api/v1/works/{work}").json()["files"][0]["id"]
        job = a.post("/api/v1/jobs/scan", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()
        match = wait_job(a, job["job_id"])["result"]["matches"][0]
        hook = a.post("/api/v1/webhooks", json={"url": rec.url}).json()["id"]
        ids = {"work_id": work, "file_id": file_id, "match_id": match["id"], "case_id": match["case_id"],
               "job_id": job["job_id"], "webhook_id": hook}

        tried = sweep_as_other_user(b, ids)
        assert {"GET /api/v1/jobs/{job_id}", "GET /api/v1/jobs/{job_id}/events", "POST /api/v1/jobs/{job_id}/cancel",
                "GET /api/v1/webhooks/{webhook_id}", "DELETE /api/v1/webhooks/{webhook_id}",
                "POST /api/v1/cases/{case_id}/pack", "GET /api/v1/cases/{case_id}/pack",
                "POST /api/v1/works/{work_id}/seal", "GET /api/v1/works/{work_id}/journal",
                "GET /api/v1/cases/{case_id}/history"} <= tried
        # nothing of A's moved: no job was queued for B, A's webhook is still there
        assert b.get("/api/v1/jobs").json()["items"] == []
        assert len(a.get("/api/v1/jobs").json()["items"]) == 1
        assert a.get(f"/api/v1/webhooks/{hook}").status_code == 200


def test_journal_seal_and_evidence_pack(app: Inkseal, kodak: list[Path]) -> None:
    accounts = accounts_for(app)
    token = user_with_token(accounts, "ana")
    ana = app.author(accounts.user("ana").id)  # an account signs with its own keys, into its own journal
    with desk(app) as (base, _), client(base, token) as c:
        assert c.post("/api/v1/keys", json={"passphrase": PASSPHRASE, "creator": "Ana"}).status_code == 201
        work = c.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).json()["id"]
        # the journal of the work: what `inkseal journal list --work` shows
        ana.journal.import_paths([kodak[0]], work_id=work, passphrase=PASSPHRASE)
        journal = c.get(f"/api/v1/works/{work}/journal").json()
        assert journal["items"] == ana.journal.entries(work) and len(journal["items"]) >= 1

        # seal, as a job: a new published file of the work, with the signature and watermark regions
        wrong = c.post(f"/api/v1/works/{work}/seal", json={"passphrase": "not the passphrase", "signature": "Ana"})
        assert wrong.status_code == 202
        failed = wait_job(c, wrong.json()["job_id"])
        assert failed["state"] == "failed" and failed["error"] and "Traceback" not in failed["error"]
        sealed = c.post(f"/api/v1/works/{work}/seal", json={"passphrase": PASSPHRASE, "signature": "Ana"}).json()
        result = wait_job(c, sealed["job_id"])
        assert result["state"] == "done", result
        assert PASSPHRASE not in str(result)  # never echoed, never stored
        files = {f["id"]: f for f in c.get(f"/api/v1/works/{work}").json()["files"]}
        assert files[result["result"]["file_id"]]["role"] == "published"
        assert {"signature", "watermark"} <= set(result["result"]["regions"])
        image = c.get(result["result"]["image"])
        assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).format == "PNG"

        # a case, then its evidence pack in both languages, as a job; downloaded as one zip
        found = c.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()
        case = found["matches"][0]["case_id"]
        assert c.get(f"/api/v1/cases/{case}/pack").status_code == 404  # none built yet
        platform = c.post(f"/api/v1/cases/{case}/pack", json={"passphrase": PASSPHRASE, "lang": "en", "for": "platform"})
        refused = wait_job(c, platform.json()["job_id"])
        assert refused["state"] == "failed" and "contact" in refused["error"]  # needs contact details first
        pack = c.post(f"/api/v1/cases/{case}/pack", json={"passphrase": PASSPHRASE, "lang": "both"})
        assert pack.status_code == 202
        done = wait_job(c, pack.json()["job_id"])
        assert done["state"] == "done" and done["done"] == done["total"] == 2, done
        download = c.get(f"/api/v1/cases/{case}/pack")
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
        assert download.content == c.get(f"/api/v1/jobs/{done['id']}/result").content
        with zipfile.ZipFile(io.BytesIO(download.content)) as z:
            names = z.namelist()
            assert {n.split("/")[0] for n in names} == {"zh", "en"}
            for name in names:  # each language's pack is itself a zip holding the report
                with zipfile.ZipFile(io.BytesIO(z.read(name))) as inner:
                    assert any(n.endswith(".pdf") for n in inner.namelist()), inner.namelist()
        assert c.get(f"/api/v1/jobs/{failed['id']}/result").status_code == 404  # a seal job has no pack
