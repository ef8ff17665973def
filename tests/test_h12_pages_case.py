"""The case page's status history and drafts (from a signed pack built as a job), keyset paging on the
works gallery, the match inbox and the dashboard, and the inspect page's full C2PA manifest; a real uvicorn
server on 127.0.0.1 over httpx, on the single-user install (the local user owns everything)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from h9web import attacked_copy, live_server
from inkseal import Inkseal
from inkseal.seal.service import SealOptions, seal
from inkseal.web import pages
from test_h12_pages_jobs import follow_events

PW = "h12-case-passphrase"


@pytest.fixture
def three_copies(tmp_path: Path, kodak: list[Path]) -> Inkseal:
    ink = Inkseal.open(tmp_path / "home")
    ink.keys.init(PW, creator="Ana")
    ink.register(kodak[8:11], author="local")
    copies = []
    for i, original in enumerate(kodak[8:11]):
        copies.append(tmp_path / f"copy{i}.jpg")
        copies[-1].write_bytes(attacked_copy(original))
    ink.scan([str(p) for p in copies])
    assert len(ink.matches()) == 3
    return ink


def test_case_page_history_and_drafts_in_both_languages(three_copies: Inkseal) -> None:
    ink = three_copies
    m = ink.matches()[0]
    ink.set_case_status(m.case_id, "confirmed", "it is mine")
    ink.set_case_status(m.case_id, "notice_sent")
    ink.check_case(m.case_id, "still_online", "checked <b>by hand</b>")
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=300) as c:
        page = c.get(f"/cases/{m.case_id}").text
        history = page.split('<table class="timeline">')[1].split("</table>")[0]
        assert "first seen" in history and "re-checked: still online" in history
        assert "checked &lt;b&gt;by hand&lt;/b&gt;" in history and "<b>" not in history
        assert "seen 1 time(s)" in page and "No drafts yet" in page

        wrong = c.post(f"/cases/{m.case_id}/drafts", data={"passphrase": "not the one", "audience": "court"})
        assert wrong.status_code == 422 and "wrong passphrase" in wrong.text
        started = c.post(f"/cases/{m.case_id}/drafts", data={"passphrase": PW, "audience": "court"})
        assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
        job_id = int(started.headers["location"].rsplit("/", 1)[1])
        _progress, done = follow_events(c, job_id)
        assert done["state"] == "done", done
        assert f'href="/cases/{m.case_id}"' in c.get(f"/jobs/{job_id}").text  # the way back

        page = c.get(f"/cases/{m.case_id}").text
        drafts = re.findall(r'<pre class="draft-text">(.*?)</pre>', page, re.S)
        assert len(drafts) == 4, drafts  # takedown and demand letter, each in Chinese and English
        texts = [html.unescape(d) for d in drafts]
        assert texts[0].strip().startswith("侵权通知书") and texts[1].strip().startswith("TAKEDOWN NOTICE")  # takedown zh, takedown en, ...
        assert page.count('class="copy secondary"') >= 4 and "Takedown notice · 中文" in page
        assert "evidence pack built" in page and f'href="/jobs/{job_id}"' in page  # on the timeline too
        c.cookies.set("inkseal_lang", "zh")
        zh = c.get(f"/cases/{m.case_id}").text
        assert "文书草稿" in zh and "删除通知 · English" in zh


def test_lists_page_by_keyset_and_keep_their_filters(three_copies: Inkseal, monkeypatch: pytest.MonkeyPatch) -> None:
    ink = three_copies
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    from inkseal.web import pages_matches

    monkeypatch.setattr(pages_matches, "INBOX_PAGE", 2)
    works = [w.id for w in ink.works()]
    matches = [m.id for m in ink.matches()]
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=300) as c:
        first = c.get("/works").text
        assert first.count('class="tile"') == 2 and f'href="/works?after={works[1]}"' in first
        second = c.get("/works", params={"after": works[1]}).text
        assert second.count('class="tile"') == 1 and 'rel="next"' not in second and 'rel="first"' in second
        assert f'href="/works/{works[2]}"' in second

        inbox = c.get("/matches", params={"status": "new", "since": "2000-01-01"}).text
        assert inbox.count("<article") == 2
        link = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', inbox).group(1))
        assert "status=new" in link and "since=2000-01-01" in link and f"after={matches[1]}" in link
        rest = c.get(link).text
        assert re.findall(r'data-id="(\d+)"', rest) == [str(matches[2])] and 'rel="next"' not in rest
        assert c.get("/matches", params={"status": "new", "until": "2000-01-01"}).text.count("<article") == 0
        # a decision made on the second page comes back to the second page, filters and all
        token = re.search(r'name="csrf_token" value="([^"]*)"', rest).group(1)
        back = re.search(r'name="back" value="([^"]+)"', rest).group(1)
        done = c.post("/matches/decide", data={"act": f"{matches[2]}:confirmed", "back": html.unescape(back),
                                               "csrf_token": token})
        assert done.status_code == 303 and "after=" in done.headers["location"] and "since=" in done.headers["location"]

        for case_id in [m.case_id for m in ink.matches()]:
            if ink.case(case_id).status == "new":
                ink.set_case_status(case_id, "confirmed")
            ink.check_case(case_id, "still_online")
        monkeypatch.setattr(pages, "ONLINE_PAGE", 2)
        dash = c.get("/").text
        assert dash.count('<li><a href="/cases/') == 2 and 'rel="next"' in dash
        more = c.get(html.unescape(re.search(r'<a href="([^"]+)" rel="next"', dash).group(1))).text
        assert more.count('<li><a href="/cases/') == 1
        assert c.get("/works", params={"after": "-1"}).status_code == 422  # a bad cursor is a clear refusal


def test_inspect_page_shows_the_full_manifest_signer_and_trust(tmp_path: Path, kodak: list[Path]) -> None:
    """A file sealed by another install, dropped on this desk: valid Content Credentials from a signer this
    desk does not trust (its own seals read `Trusted`), the whole manifest readable, every string escaped."""
    studio = Inkseal.open(tmp_path / "studio")
    studio.keys.init(PW, creator="Ana <Studio>")
    work_id = studio.register([kodak[12]], author="local").items[0].work_id
    sealed = seal(studio, work_id, tmp_path / "sealed.png", SealOptions(signature="Ana"), PW)
    ink = Inkseal.open(tmp_path / "home")
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=300) as c:
        page = c.get("/inspect").text
        token = re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)
        r = c.post("/inspect", files={"file": ("sealed.png", sealed.path.read_bytes(), "image/png")},
                   data={"csrf_token": token})
        assert r.status_code == 200
        report = r.text.split('<section class="card report">')[1]
        assert '<strong class="c2pa-state">Valid</strong>' in report and "not on this desk&#39;s trust list" in report
        assert '<details class="tree manifest">' in report
        manifest = html.unescape(re.search(r'<pre class="json">(.*?)</pre>', report, re.S).group(1))
        assert '"claim_generator_info"' in manifest and '"signature_info"' in manifest
        assert "Signed by" in report and "Ana &lt;Studio&gt;" in report and "<Studio>" not in report
        assert "Everything else the inspection found" in report  # xmp, marks...: drawn generically
        plain = c.post("/inspect", files={"file": ("k.png", kodak[13].read_bytes(), "image/png")},
                       data={"csrf_token": token}).text
        assert '<strong class="c2pa-state">Absent</strong>' in plain and "tree manifest" not in plain
