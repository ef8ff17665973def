"""Every user's objects are theirs alone: for EVERY path of the OpenAPI document that takes an id, user B
gets 404 on user A's object, whatever the method (new endpoints are covered without editing this test)."""

from __future__ import annotations

from pathlib import Path

from h9web import accounts_for, sweep_as_other_user, attacked_copy, client, live_server, png_bytes, user_with_token
from inkseal.registry.jobs import JobStore
from inkseal import Inkseal


def test_other_users_ids_are_404_on_every_path(backend_app: Inkseal, kodak: list[Path]) -> None:
    accounts = accounts_for(backend_app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    with live_server(backend_app) as base, client(base, token_a) as a, client(base, token_b) as b:
        work = a.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).json()["id"]
        file_id = a.get(f"/api/v1/works/{work}").json()["files"][0]["id"]
        found = a.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()
        match = found["matches"][0]
        job = a.post("/api/v1/jobs/scan", files={"file": ("blank.png", png_bytes(), "image/png")}).json()["job_id"]
        hook = JobStore(backend_app.registry).add_webhook(accounts.user("ana").id, "https://example.com/hook")[0].id
        ids = {"work_id": work, "file_id": file_id, "match_id": match["id"], "case_id": match["case_id"],
               "job_id": job, "webhook_id": hook}

        tried = sweep_as_other_user(b, ids)
        assert {"GET /api/v1/works/{work_id}", "DELETE /api/v1/works/{work_id}", "POST /api/v1/matches/{match_id}",
                "GET /api/v1/cases/{case_id}", "GET /api/v1/works/{work_id}/files/{file_id}/image"} <= tried

        # B's 404 on A's id reads exactly as on an id that does not exist
        assert b.get(f"/api/v1/works/{work}").json()["error"]["en"] == f"no work {work}"
        # nothing of A's was changed, and none of it shows in B's listings or B's scans
        assert a.get(f"/api/v1/works/{work}").status_code == 200
        assert a.get(f"/api/v1/matches/{match['id']}").json()["status"] == "new"
        for listing in ("works", "matches", "cases"):
            assert b.get(f"/api/v1/{listing}").json()["items"] == []
            assert len(a.get(f"/api/v1/{listing}").json()["items"]) == 1
        assert b.get("/api/v1/matches", params={"work": work}).json()["items"] == []
        scan_b = b.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()
        assert scan_b["matches"] == []
        # the same bytes cannot become B's work, and B learns no id
        taken = b.post("/api/v1/works", files={"file": ("mine.png", kodak[0].read_bytes(), "image/png")})
        assert taken.status_code == 409 and str(work) not in taken.text
        # no id at all: 401, not a listing
        with client(base) as anonymous:
            assert anonymous.get("/api/v1/works").status_code == 401
            assert anonymous.get(f"/api/v1/works/{work}").status_code == 401
