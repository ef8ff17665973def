"""Uploaded suspects: stored under a stable name (`upload:<sha256 prefix>/<sanitised name>`), never the server's
temporary path, and the same picture uploaded again (by /scans or a scan job, under any name) joins its case."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import select

from h10jobs import desk, wait_job
from h9web import accounts_for, attacked_copy, client, user_with_token
from inkseal import Inkseal
from inkseal.registry.models import Case, Scan, Suspect

STABLE = re.compile(r"^upload:[0-9a-f]{16}/[\w\-.]+$")


def test_an_upload_keeps_a_stable_name_and_joins_its_case(app: Inkseal, kodak: list[Path]) -> None:
    token = user_with_token(accounts_for(app), "ana")
    copy, other = attacked_copy(kodak[0]), attacked_copy(kodak[1])
    with desk(app) as (base, _), client(base, token) as c:
        for src in kodak[:2]:
            assert c.post("/api/v1/works", files={"file": (src.name, src.read_bytes(), "image/png")}).status_code == 201
        first = c.post("/api/v1/scans", files={"file": ("../../etc/My Repost.jpg", copy, "image/jpeg")}).json()
        again = c.post("/api/v1/scans", files={"file": ("again.jpg", copy, "image/jpeg")}).json()
        job = wait_job(c, c.post("/api/v1/jobs/scan", files=[("file", ("in a job.jpg", copy, "image/jpeg")),
                                                              ("file", ("other.jpg", other, "image/jpeg"))]
                                 ).json()["job_id"])
        assert job["state"] == "done", job
        sightings = first["matches"] + again["matches"] + job["result"]["matches"]
        assert len(sightings) == 4
        prefix = hashlib.sha256(copy).hexdigest()[:16]
        same = [m for m in sightings if m["suspect"]["sha256"].startswith(prefix)]
        assert [m["suspect"]["source"] for m in same] == [f"upload:{prefix}/My_Repost.jpg", f"upload:{prefix}/again.jpg",
                                                          f"upload:{prefix}/in_a_job.jpg"]
        assert len({m["case_id"] for m in same}) == 1  # one picture, one case, however often it is uploaded
        (odd,) = [m for m in sightings if m not in same]
        assert odd["case_id"] != same[0]["case_id"]  # another picture is another case
        case = c.get(f"/api/v1/cases/{same[0]['case_id']}").json()
        assert case["times_seen"] == 3 and [m["source"] for m in case["matches"]] == [m["suspect"]["source"] for m in same]

    # what is stored: stable names only, nothing of the server's folders
    home = str(app.settings.home)
    with app.registry.session() as s:
        sources = [x.source for x in s.scalars(select(Suspect))]
        images = [x.image_url for x in s.scalars(select(Case))]
        scanned = [src for scan in s.scalars(select(Scan)) for src in scan.sources]
        pages = [x.page_url for x in s.scalars(select(Suspect))] + [x.page_url for x in s.scalars(select(Case))]
    assert sources and all(STABLE.match(v) for v in sources + images + scanned), (sources, images, scanned)
    assert pages == [None] * len(pages)
    assert home not in repr((sources, images, scanned))
