"""A case's timeline over the API (GET /api/v1/cases/{id}/history): its sightings, its re-checks with their times,
its current status; another user's case is 404 (the OpenAPI sweep in test_h10_api covers the path as well)."""

from __future__ import annotations

from pathlib import Path

from h10jobs import desk
from h9web import accounts_for, attacked_copy, client, user_with_token
from inkseal import Inkseal


def test_case_history_lists_sightings_checks_and_status(app: Inkseal, kodak: list[Path]) -> None:
    accounts = accounts_for(app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    with desk(app) as (base, _), client(base, token_a) as a, client(base, token_b) as b:
        assert a.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).status_code == 201
        copy = attacked_copy(kodak[0])
        first = a.post("/api/v1/scans", files={"file": ("a.jpg", copy, "image/jpeg")}).json()["matches"][0]
        second = a.post("/api/v1/scans", files={"file": ("b.jpg", copy, "image/jpeg")}).json()["matches"][0]
        case = first["case_id"]
        assert second["case_id"] == case

        history = a.get(f"/api/v1/cases/{case}/history").json()
        assert [e["event"] for e in history["events"]] == ["first_seen", "seen"]
        assert [e["match_id"] for e in history["events"]] == [first["id"], second["id"]]
        assert history["status"] == "new" and history["complete"] is False and set(history["note"]) == {"en", "zh"}

        assert a.post(f"/api/v1/cases/{case}", json={"status": "confirmed", "note": "mine"}).status_code == 200
        events = a.get(f"/api/v1/cases/{case}/history").json()["events"]
        assert [(e["event"], e.get("status")) for e in events][-1] == ("status", "confirmed")
        assert events[-1]["note"] == "mine" and events[-1]["at"] >= events[1]["at"]

        for step in ("notice_sent", "still_online", "removed"):
            assert a.post(f"/api/v1/cases/{case}", json={"status": step}).status_code == 200, step
        history = a.get(f"/api/v1/cases/{case}/history").json()
        assert [(e["event"], e.get("result")) for e in history["events"]] == [
            ("first_seen", None), ("seen", None), ("check", "still_online"), ("check", "removed")]
        assert history["status"] == "removed"
        times = [e["at"] for e in history["events"]]
        assert times == sorted(times)

        r = b.get(f"/api/v1/cases/{case}/history")
        assert r.status_code == 404 and set(r.json()["error"]) == {"en", "zh"}
