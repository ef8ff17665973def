"""The desk's REST API against a real uvicorn server on 127.0.0.1, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from h9web import accounts_for, attacked_copy, client, live_server, png_bytes, user_with_token
from inkseal import Inkseal


def test_register_scan_confirm_story(backend_app: Inkseal, kodak: list[Path]) -> None:
    token = user_with_token(accounts_for(backend_app), "ana")
    with live_server(backend_app) as base, client(base, token) as c:
        ids = []
        for p in kodak[:3]:
            r = c.post("/api/v1/works", files={"file": (p.name, p.read_bytes(), "image/png")},
                       data={"title": f"Kodak {p.stem}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        again = c.post("/api/v1/works", files={"file": ("again.png", kodak[0].read_bytes(), "image/png")})
        assert again.status_code == 200 and again.json() == {"id": ids[0], "existing": True}

        work = c.get(f"/api/v1/works/{ids[0]}").json()
        assert work["title"] == "Kodak kodim01" and work["author"] == "ana"
        f = work["files"][0]
        assert f["sha256"] == hashlib.sha256(kodak[0].read_bytes()).hexdigest() and f["name"] == "kodim01.png"
        original = c.get(f"/api/v1/works/{ids[0]}/files/{f['id']}/image")
        assert original.headers["content-type"] == "image/png" and original.content == kodak[0].read_bytes()
        thumb = c.get(f"/api/v1/works/{ids[0]}/files/{f['id']}/image", params={"size": "thumb"})
        assert thumb.headers["content-type"] == "image/jpeg" and max(Image.open(io.BytesIO(thumb.content)).size) <= 320

        # keyset pages, as `inkseal works --limit --after`
        first = c.get("/api/v1/works", params={"limit": 2}).json()
        assert [w["id"] for w in first["items"]] == ids[:2] and first["next_after"] == ids[1]
        rest = c.get("/api/v1/works", params={"limit": 2, "after": first["next_after"]}).json()
        assert [w["id"] for w in rest["items"]] == ids[2:] and rest["next_after"] is None

        scan = c.post("/api/v1/scans", files=[("file", ("repost.jpg", attacked_copy(kodak[1]), "image/jpeg")),
                                              ("file", ("unrelated.png", png_bytes(), "image/png"))])
        assert scan.status_code == 200, scan.text
        body = scan.json()
        assert body["items"] == 2 and len(body["matches"]) == 1
        m = body["matches"][0]
        assert m["work_id"] == ids[1] and m["tier"] == "copy" and m["status"] == "new"
        assert [x["id"] for x in c.get("/api/v1/matches", params={"status": "new"}).json()["items"]] == [m["id"]]

        done = c.post(f"/api/v1/matches/{m['id']}", json={"status": "confirmed", "note": "my barn"})
        assert done.status_code == 200 and done.json()["status"] == "confirmed"
        case = c.get(f"/api/v1/cases/{m['case_id']}").json()
        assert case["status"] == "confirmed" and case["note"] == "my barn" and [s["id"] for s in case["matches"]] == [m["id"]]
        assert c.get("/api/v1/cases", params={"status": "confirmed"}).json()["items"][0]["id"] == m["case_id"]
        refused = c.post(f"/api/v1/cases/{m['case_id']}", json={"status": "new"})
        assert refused.status_code == 409 and "confirmed" in refused.json()["error"]["en"]
        figure = c.get(f"/api/v1/matches/{m['id']}/figure")
        assert figure.headers["content-type"] == "image/png" and Image.open(io.BytesIO(figure.content)).width > 0

        report = c.post("/api/v1/inspect", files={"file": ("copy.jpg", attacked_copy(kodak[1]), "image/jpeg")}).json()
        assert report["format"] == "JPEG" and any(x["code"] == "label_missing" for x in report["findings"])

        assert c.delete(f"/api/v1/works/{ids[2]}").status_code == 204
        gone = c.get(f"/api/v1/works/{ids[2]}")
        assert gone.status_code == 404 and gone.json()["error"] == {"en": f"no work {ids[2]}", "zh": f"无作品 {ids[2]}"}
    # the API wrote through the same application: the CLI's view agrees
    assert [w.id for w in backend_app.works()] == ids[:2]
    assert backend_app.case(m["case_id"]).status == "confirmed"


def test_bad_uploads_are_one_line_errors(tmp_path: Path, kodak: list[Path]) -> None:
    ink = Inkseal.open(tmp_path / "home", max_bytes=200_000, max_pixels=200_000)
    token = user_with_token(accounts_for(ink), "ana")
    try:
        with live_server(ink) as base, client(base, token) as c:
            bad = c.post("/api/v1/works", files={"file": ("x.png", b"\x89PNG\r\n\x1a\n broken", "image/png")})
            assert bad.status_code == 422
            err = bad.json()["error"]
            assert set(err) == {"en", "zh"} and "\n" not in err["en"] and "Traceback" not in bad.text
            big = c.post("/api/v1/works", files={"file": ("big.png", kodak[0].read_bytes(), "image/png")})
            assert big.status_code == 413 and "200,000" in big.json()["error"]["en"]
            huge = c.post("/api/v1/scans", files={"file": ("big.png", b"\0" * 2_000_000, "image/png")})
            assert huge.status_code == 413 and set(huge.json()["error"]) == {"en", "zh"}  # by Content-Length
            assert "frame-ancestors 'none'" in huge.headers["content-security-policy"]

            def chunked():  # no Content-Length: counted as it arrives
                yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
                for _ in range(40):
                    yield b"\0" * 65536

            streamed = c.post("/api/v1/works", content=chunked(),
                              headers={"content-type": "multipart/form-data; boundary=xyz"})
            assert streamed.status_code == 413 and "too large" in streamed.json()["error"]["en"]
            many = png_bytes((600, 400))  # 240,000 px over the 200,000 limit, small in bytes
            pixels = c.post("/api/v1/works", files={"file": ("wide.png", many, "image/png")})
            assert pixels.status_code == 422 and "pixel" in pixels.json()["error"]["en"].lower()
            scan = c.post("/api/v1/scans", files={"file": ("junk.jpg", b"not an image", "image/jpeg")})
            assert scan.status_code == 422 and "junk" in scan.json()["error"]["en"]
            assert c.post("/api/v1/inspect", files={"file": ("e.png", b"", "image/png")}).status_code == 422
            assert c.post("/api/v1/works", data={"title": "no file"}).status_code == 422
            nul = c.post("/api/v1/works", files={"file": ("a.png", png_bytes(), "image/png")}, data={"title": "a\0b"})
            assert nul.status_code == 422
            assert c.get("/api/v1/nothing").json()["error"]["en"] == "nothing here: /api/v1/nothing"
            assert c.get("/api/v1/works/1").status_code == 404
        assert ink.works() == []  # nothing half-stored
    finally:
        ink.close()


def test_single_user_desk_needs_no_login_only_on_loopback(tmp_path: Path) -> None:
    ink = Inkseal.open(tmp_path / "home")
    try:
        with live_server(ink) as base, client(base) as c:
            me = c.get("/api/v1/me").json()
            assert me["name"] == "local" and me["local"] is True
            r = c.post("/api/v1/works", files={"file": ("a.png", png_bytes(), "image/png")})
            assert r.status_code == 201
            # a page on another site cannot drive the local desk, nor can a DNS-rebound host name
            evil = c.post("/api/v1/works", files={"file": ("b.png", png_bytes(color=(1, 2, 3)), "image/png")},
                          headers={"Origin": "https://evil.example"})
            assert evil.status_code == 403
            assert c.get("/api/v1/works", headers={"Host": "evil.example"}).status_code == 401
            assert c.get("/api/v1/works", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
            # once an account has a password, everyone signs in
            accounts_for(ink).add_user("ana", "correct horse battery")
            assert c.get("/api/v1/works").status_code == 401
        # told it listens beyond loopback, the app never signs anyone in as the local user
        ink2 = Inkseal.open(tmp_path / "home2")
        try:
            with live_server(ink2, listen_host="0.0.0.0") as base, client(base) as c:
                assert c.get("/api/v1/works").status_code == 401
        finally:
            ink2.close()
    finally:
        ink.close()


def test_works_from_before_accounts_belong_to_the_local_user(tmp_path: Path, kodak: list[Path]) -> None:
    ink = Inkseal.open(tmp_path / "home")
    try:
        old = ink.register([kodak[5]], author="me").items[0].work_id  # by the CLI, no owner row
        accounts = accounts_for(ink)
        accounts.add_user("local", "a password for local")  # the local user signs in from now on, keeping its works
        token = accounts.create_token("local")[1]
        other = user_with_token(accounts, "bo")
        with live_server(ink) as base, client(base, token) as c, client(base, other) as b:
            assert [w["id"] for w in c.get("/api/v1/works").json()["items"]] == [old]
            assert b.get(f"/api/v1/works/{old}").status_code == 404
    finally:
        ink.close()
