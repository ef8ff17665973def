"""Webhooks on new matches, against a real receiver (http.server on 127.0.0.1): signed with HMAC-SHA256 over
the timestamp and the raw body, retried with backoff until the receiver takes it, state kept in the database;
private targets refused unless the server allows them; another user's webhook is 404."""

from __future__ import annotations

from pathlib import Path

from h10jobs import desk, receiver, wait_job, wait_until
from h9web import accounts_for, attacked_copy, client, user_with_token
from inkseal import Inkseal


def test_new_match_is_delivered_signed_after_two_failures(backend_app: Inkseal, kodak: list[Path]) -> None:
    app = backend_app
    accounts = accounts_for(app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    with receiver(fail_first=2) as rec, desk(app, allow_private_targets=True, webhook_retry_base_s=0.2) as (base, _), \
            client(base, token_a) as a, client(base, token_b) as b:
        assert a.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")}).status_code == 201
        made = a.post("/api/v1/webhooks", json={"url": rec.url})
        assert made.status_code == 201, made.text
        hook, secret = made.json()["id"], made.json()["secret"]
        assert secret.startswith("whsec_") and secret not in a.get("/api/v1/webhooks").text  # shown once
        assert secret not in a.get(f"/api/v1/webhooks/{hook}").text

        # a match found by a background scan job
        job = a.post("/api/v1/jobs/scan", files={"file": ("copy.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()
        match = wait_job(a, job["job_id"])["result"]["matches"][0]

        delivered = wait_until(lambda: rec.verified(secret), "the webhook to be delivered")
        assert len(delivered) == 1 and delivered[0]["event"] == "match.new"
        assert delivered[0]["match"]["id"] == match["id"] and delivered[0]["match"]["work_id"] == 1
        assert [status for _h, _b, status in rec.got] == [500, 500, 200]
        headers = [h for h, _b, _s in rec.got]
        assert len({h["x-inkseal-delivery"] for h in headers}) == 1  # one delivery, three attempts
        assert rec.verified("whsec_wrong") == []  # the signature really depends on the secret

        state = wait_until(lambda: [d for d in a.get(f"/api/v1/webhooks/{hook}").json()["deliveries"]
                                    if d["state"] == "delivered"], "the delivery to be recorded")
        assert state[0]["attempts"] == 3 and state[0]["last_status"] == 200 and state[0]["match_id"] == match["id"]

        # the same match is never delivered twice; a match of another user's work goes to nobody here
        assert b.post("/api/v1/works", files={"file": ("b.png", kodak[7].read_bytes(), "image/png")}).status_code == 201
        sync = b.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(kodak[7]), "image/jpeg")}).json()
        assert len(sync["matches"]) == 1
        again = a.post("/api/v1/jobs/scan", files={"file": ("copy2.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()
        second = wait_job(a, again["job_id"])["result"]["matches"]
        wait_until(lambda: len(rec.verified(secret)) == 1 + len(second), "the second match to be delivered")
        assert {d["match"]["work_id"] for d in rec.verified(secret)} == {1}

        # another user: 404 on A's webhook, and an empty list
        assert b.get("/api/v1/webhooks").json()["items"] == []
        for method in ("GET", "DELETE"):
            r = b.request(method, f"/api/v1/webhooks/{hook}")
            assert r.status_code == 404 and r.json()["error"]["en"] == f"no webhook {hook}"
        assert a.delete(f"/api/v1/webhooks/{hook}").status_code == 204
        assert a.get(f"/api/v1/webhooks/{hook}").status_code == 404


def test_private_targets_refused_unless_allowed(app: Inkseal) -> None:
    token = user_with_token(accounts_for(app), "ana")
    with desk(app) as (base, _), client(base, token) as c:
        for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest",
                    "http://[::1]/x", "file:///etc/passwd", "http://user:pw@example.com/x", "http://x y/"):
            r = c.post("/api/v1/webhooks", json={"url": url})
            assert r.status_code == 422, (url, r.text)
            assert set(r.json()["error"]) == {"en", "zh"}
        assert c.get("/api/v1/webhooks").json()["items"] == []
    with desk(app, allow_private_targets=True) as (base, _), client(base, token) as c:
        assert c.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}).status_code == 201
        # cloud metadata stays refused even then
        assert c.post("/api/v1/webhooks", json={"url": "http://169.254.169.254/latest"}).status_code == 422


def test_unreachable_receiver_is_retried_then_given_up(app: Inkseal, kodak: list[Path]) -> None:
    """Connection refused: retried with backoff, the state says so; after the last attempt: failed."""
    import inkseal.web.webhooks as webhooks
    from h9web import _free_port

    token = user_with_token(accounts_for(app), "ana")
    dead = f"http://127.0.0.1:{_free_port()}/hook"  # nothing listens there
    old = webhooks.MAX_ATTEMPTS
    webhooks.MAX_ATTEMPTS = 3  # the real cap is 8; three attempts show the same path in a few seconds
    try:
        with desk(app, allow_private_targets=True, webhook_retry_base_s=0.1) as (base, _), client(base, token) as c:
            c.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")})
            hook = c.post("/api/v1/webhooks", json={"url": dead}).json()["id"]
            assert c.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(kodak[0]), "image/jpeg")}).json()["matches"]
            failed = wait_until(lambda: [d for d in c.get(f"/api/v1/webhooks/{hook}").json()["deliveries"]
                                         if d["state"] == "failed"], "the delivery to be given up")
            assert failed[0]["attempts"] == 3 and failed[0]["last_status"] is None
            assert "ConnectError" in failed[0]["last_error"]
    finally:
        webhooks.MAX_ATTEMPTS = old


def test_matches_found_by_the_command_line_are_delivered_too(app: Inkseal, kodak: list[Path], tmp_path: Path) -> None:
    """A scan outside the server (`inkseal scan`, here while the server is down): the next sweep delivers it."""
    token = user_with_token(accounts_for(app), "ana")
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(attacked_copy(kodak[0]))
    with receiver() as rec:
        with desk(app, allow_private_targets=True) as (base, _), client(base, token) as c:
            c.post("/api/v1/works", files={"file": ("barn.png", kodak[0].read_bytes(), "image/png")})
            secret = c.post("/api/v1/webhooks", json={"url": rec.url}).json()["secret"]
        report = app.scan([str(copy)])  # what `inkseal scan copy.jpg` runs
        assert len(report.matched) == 1
        with desk(app, allow_private_targets=True):
            delivered = wait_until(lambda: rec.verified(secret), "the command line's match to be delivered")
            assert delivered[0]["match"]["id"] == report.matched[0].matches[0].id
