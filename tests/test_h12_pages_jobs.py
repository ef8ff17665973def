"""The desk's seal page (live preview from the sealer's own placement, the seal job) and scans page (URLs and
uploads as a job, followed by server-sent events), against a real uvicorn server on 127.0.0.1 over httpx."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from h9web import accounts_for, attacked_copy, live_server, static_site
from inkseal import Inkseal
from inkseal.web.pages_seal import PREVIEW_SIDE

PW = "h12-pages-passphrase"
USER, PASSWORD = "ana", "correct horse battery"


def sign_in(c: httpx.Client, name: str = USER) -> str:
    assert c.post("/login/page", data={"name": name, "password": PASSWORD}).status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)


def follow_events(c: httpx.Client, job_id: int) -> tuple[list[dict], dict]:
    """Read the job's SSE stream to its `done` event: the progress events seen, and the finished job."""
    progress: list[dict] = []
    with c.stream("GET", f"/api/v1/jobs/{job_id}/events", timeout=300) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "done":
                    return progress, data
                progress.append(data)
    raise AssertionError("the stream ended without a done event")


def changed_box(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 12)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def overlap(a: tuple, b: tuple) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return ix * iy / (area(a) + area(b) - ix * iy)


@pytest.fixture
def sealed_setup(tmp_path: Path, kodak: list[Path]) -> Iterator[tuple[Inkseal, int]]:
    ink = Inkseal.open(tmp_path / "home")
    accounts = accounts_for(ink)
    ana = accounts.add_user(USER, PASSWORD)
    ink.author(ana.id).keys.init(PW, creator="Ana")  # keys are per account
    accounts.add_user("bo", PASSWORD)
    work_id = ink.register([kodak[3]], author=USER, title="lighthouse <b>").items[0].work_id
    assert work_id is not None
    accounts.set_owner(work_id, ana.id)
    yield ink, work_id


def test_seal_page_previews_the_sealers_placement_then_seals_as_a_job(sealed_setup, kodak: list[Path]) -> None:  # type: ignore[no-untyped-def]
    ink, work_id = sealed_setup
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=300) as c:
        token = sign_in(c)
        page = c.get(f"/works/{work_id}")
        assert f'href="/works/{work_id}/seal"' in page.text
        form = c.get(f"/works/{work_id}/seal")
        assert form.status_code == 200 and 'id="seal-preview"' in form.text and "lighthouse &lt;b&gt;" in form.text
        assert "<script>" not in form.text and 'src="/static/seal.js"' in form.text

        # the preview: the work's picture, scaled, with only the signature drawn (label off) ...
        params = {"signature": "Ana 安娜", "corner": "top-right", "signature_size": "0.08", "ai_label": "0"}
        r = c.get(f"/works/{work_id}/seal/preview.png", params=params)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        preview = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))
        plain = Image.open(kodak[3]).convert("RGB")
        scale = PREVIEW_SIDE / max(plain.size)
        plain.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        assert preview.shape[:2] == (plain.size[1], plain.size[0])
        sig_preview = changed_box(preview, np.asarray(plain))
        # ... and with the label, in the other corner: more of the picture changes, near the top left
        labelled = c.get(f"/works/{work_id}/seal/preview.png", params=params | {"ai_label": "1"})
        label_box = changed_box(np.asarray(Image.open(io.BytesIO(labelled.content)).convert("RGB")), preview)
        assert label_box[0] < plain.size[0] / 4 and label_box[1] < plain.size[1] / 4
        # a label the sealer refuses (GB 45438-2025 wording) is one line, in the page's language
        bad = c.get(f"/works/{work_id}/seal/preview.png", params=params | {"ai_label": "1", "label_text": "hello"})
        assert bad.status_code == 422 and "AI" in bad.json()["error"] and "Traceback" not in bad.text

        fields = {"signature": "Ana 安娜", "corner": "top-right", "signature_size": "0.08",
                  "signature_opacity": "0.85", "label_text": "AI生成", "format": "png", "csrf_token": token}
        refused = c.post(f"/works/{work_id}/seal", data={**fields, "passphrase": PW} | {"csrf_token": "x"})
        assert refused.status_code == 403
        wrong = c.post(f"/works/{work_id}/seal", data={**fields, "passphrase": "not it at all"})
        assert wrong.status_code == 422 and "wrong passphrase" in wrong.text, re.findall(r"<p class=\"error\".*", wrong.text)
        badlabel = c.post(f"/works/{work_id}/seal", data={**fields, "ai_label": "1", "label_text": "hi",
                                                           "passphrase": PW})
        assert badlabel.status_code == 422 and "Not sealed" in badlabel.text and 'value="hi"' in badlabel.text
        assert len(ink.work(work_id).files) == 1  # nothing was sealed by the refusals

        started = c.post(f"/works/{work_id}/seal", data={**fields, "passphrase": PW})  # label off: unticked
        assert started.status_code == 303
        job_id = int(started.headers["location"].rsplit("/", 1)[1])
        _progress, done = follow_events(c, job_id)
        assert done["state"] == "done", done
        job_page = c.get(f"/jobs/{job_id}").text
        assert "Work %d is sealed" % work_id in job_page and "explicit AI label turned off" in job_page
        assert 'http-equiv="refresh"' not in job_page  # finished: no more refreshing
        files = ink.work(work_id).files
        assert [f.role for f in files] == ["original", "published"]
        assert f"/files/{files[1].id}/image" in job_page
        # the preview put the signature where the sealer did (its box, scaled to the preview)
        box = files[1].regions["signature"]
        assert overlap(sig_preview, tuple(round(v * scale) for v in box)) > 0.7, (sig_preview, box, scale)
        assert "ai_label" not in files[1].regions
        assert c.get(f"/works/{work_id}").text.count('class="tile"') == 2  # both versions on the work page

        # another account: 404 for the page, the preview, the form and the job
        c.cookies.clear()
        token_b = sign_in(c, "bo")
        for path in (f"/works/{work_id}/seal", f"/works/{work_id}/seal/preview.png", f"/jobs/{job_id}"):
            assert c.get(path).status_code == 404, path
        assert c.post(f"/works/{work_id}/seal", data={**fields, "passphrase": PW, "csrf_token": token_b}).status_code == 404
        assert c.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token_b}).status_code == 404


def test_seal_form_without_js_previews_through_the_query(sealed_setup) -> None:  # type: ignore[no-untyped-def]
    ink, work_id = sealed_setup
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=300) as c:
        sign_in(c)
        page = c.get(f"/works/{work_id}/seal", params={"signature": "Bo <i>", "corner": "top-left",
                                                        "label_text": "AI合成"}).text
        assert 'value="Bo &lt;i&gt;"' in page and "<i>" not in page.split("<main>")[1]
        src = re.search(r'id="seal-preview" src="([^"]+)"', page).group(1).replace("&amp;", "&")
        assert "corner=top-left" in src and "ai_label=0" in src  # an unticked box is "label off"
        assert c.get(src).status_code == 200
        c.cookies.set("inkseal_lang", "zh")
        zh = c.get(f"/works/{work_id}/seal").text
        assert f"为作品 {work_id} 加印" in zh and "署名位置" in zh and "右下角" in zh


def test_scans_page_runs_urls_and_uploads_as_a_job_followed_live(tmp_path: Path, kodak: list[Path]) -> None:
    routes = {
        "/post": ("text/html; charset=utf-8", b"<!doctype html><title>repost</title><img src='/c.jpg'>"),
        "/c.jpg": ("image/jpeg", attacked_copy(kodak[5])),
    }
    ink = Inkseal.open(tmp_path / "home")  # single-user: the local user may scan its own network
    ink.register([kodak[5], kodak[6]], author="local")
    with static_site(routes) as site_url:
        with live_server(ink) as base, httpx.Client(base_url=base, timeout=300) as c:
            page = c.get("/scans").text
            assert '<textarea name="urls"' in page
            empty = c.post("/scans", data={"urls": "  \n"})
            assert empty.status_code == 422 and "at least one file or url" in empty.text
            nonsense = c.post("/scans", data={"urls": "ftp://nowhere/x y"})
            assert nonsense.status_code == 422 and 'ftp://nowhere/x y</textarea>' in nonsense.text  # kept
            url = f"{site_url}/post"
            started = c.post("/scans", data={"urls": f"{url}\n"},
                             files=[("file", ("copy.jpg", attacked_copy(kodak[6]), "image/jpeg")),
                                    ("file", ("broken.png", b"\x89PNG nope", "image/png"))])
            assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
            job_id = int(started.headers["location"].rsplit("/", 1)[1])
            running = c.get(f"/jobs/{job_id}").text
            assert f'data-events="/api/v1/jobs/{job_id}/events"' in running
            if 'data-finished="no"' in running:  # the no-JS fallback while it runs
                assert '<noscript><meta http-equiv="refresh"' in running
            progress, done = follow_events(c, job_id)
            assert done["state"] == "done", done
            assert all({"done", "total", "state"} <= set(p) for p in progress)
            result = c.get(f"/jobs/{job_id}").text
            assert re.search(r"3 item\(s\), 2 match\(es\), 1 failed", result), result
            assert "broken.png" in result and "/cases/" in result
            assert f'href="/jobs/{job_id}"' in c.get("/scans").text  # listed with the user's scans
            assert {m.work_id for m in ink.matches()} == {w.id for w in ink.works()}


def test_a_queued_job_can_be_cancelled_from_its_page(tmp_path: Path, kodak: list[Path]) -> None:
    """With the consumer off (`serve --no-worker`), a job stays queued: its page refreshes, cancel ends it."""
    ink = Inkseal.open(tmp_path / "home")
    ink.register([kodak[0]], author="local")

    def no_worker(app) -> None:  # type: ignore[no-untyped-def]
        app.state.run_jobs = False

    with live_server(ink, extend=no_worker) as base, httpx.Client(base_url=base, timeout=300) as c:
        started = c.post("/scans", files=[("file", ("a.jpg", attacked_copy(kodak[0]), "image/jpeg"))])
        job_id = int(started.headers["location"].rsplit("/", 1)[1])
        page = c.get(f"/jobs/{job_id}").text
        assert "queued" in page and '<noscript><meta http-equiv="refresh"' in page
        assert c.post(f"/jobs/{job_id}/cancel").status_code == 303
        deadline = time.monotonic() + 60  # a bound on a hang
        while "cancelled" not in (page := c.get(f"/jobs/{job_id}").text):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert 'http-equiv="refresh"' not in page
