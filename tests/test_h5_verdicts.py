"""A match means a copy of THIS picture: look-alikes stay quiet, pasted regions and edits are told apart."""

from __future__ import annotations

import io
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import DATA, rgb
from inkseal import Inkseal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import localisation_set  # noqa: E402

HARDNEG = DATA / "hardneg"
CAN = sorted((HARDNEG / "photo_dreambooth_can").glob("*.jpg"))
FENNEC = HARDNEG / "ai_comfy_fennec_girl" / "flux__flux_dev_example.jpg"
FIRE_SKETCH = HARDNEG / "_ambiguous" / "invoke_img2img_fire_drawing" / "fire-drawing.png"
FIRE_IMG2IMG = HARDNEG / "_ambiguous" / "invoke_img2img_fire_drawing" / "000035.1592514025.png"

pytestmark = pytest.mark.skipif(not CAN or not FENNEC.exists(), reason="hard-negative set not available")


def jpeg(arr: np.ndarray, q: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=q)
    return buf.getvalue()


@pytest.fixture(scope="module")
def hn_app(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path]) -> Iterator[Inkseal]:
    app = Inkseal.open(tmp_path_factory.mktemp("hardneg-home"))
    app.register([c for c in CAN if c.name != "01.jpg"] + [FENNEC, FIRE_SKETCH, kodak[18]], author="artist")
    yield app
    app.close()


def test_same_subject_photo_is_not_a_copy(hn_app: Inkseal) -> None:
    # Another photo of the same can: its printed label verifies under one affine with over a hundred
    # ORB inliers (a score of 15 before pixel agreement), but it is a different picture.
    verdicts = hn_app.matcher.match(rgb(HARDNEG / "photo_dreambooth_can" / "01.jpg"), keep_non_matches=True)
    assert verdicts, "the look-alike should at least be a candidate, or this test proves nothing"
    assert max(v.inliers for v in verdicts) >= 40
    assert [v.tier for v in verdicts if v.tier] == []
    assert hn_app.match_image((HARDNEG / "photo_dreambooth_can" / "01.jpg").read_bytes()) == []


def test_pasted_character_is_a_copy_of_that_region(hn_app: Inkseal, flowers: list[Path]) -> None:
    art = rgb(FENNEC)
    h, w = art.shape[:2]
    background = Image.open(flowers[7]).convert("RGB").resize((int(w * 1.3), int(h * 1.2)))
    mask = Image.new("L", (w, h), 0)
    ellipse = (w * 0.3, h * 0.15, w * 0.7, h * 0.8)
    ImageDraw.Draw(mask).ellipse(ellipse, fill=255)
    background.paste(Image.fromarray(art), (int(w * 0.2), int(h * 0.1)), mask)
    (v,) = [v for v in hn_app.match_image(jpeg(np.asarray(background)))]
    assert hn_app.work(v.work_id).title == FENNEC.stem and v.tier == "copy" and v.is_match
    xs = [p[0] for p in v.localisation.polygon_in_original]
    ys = [p[1] for p in v.localisation.polygon_in_original]
    # the outline stays on the pasted region, not on the whole registered picture
    assert min(xs) > w * 0.2 and max(xs) < w * 0.8 and min(ys) > h * 0.05 and max(ys) < h * 0.9


def test_img2img_edit_is_a_derivative_not_a_copy(hn_app: Inkseal) -> None:
    # InvokeAI img2img of a hand-drawn fireplace sketch: same composition, repainted pixels.
    verdicts = hn_app.match_image(FIRE_IMG2IMG.read_bytes())
    found = [(hn_app.work(v.work_id).title, v.tier, v.is_match) for v in verdicts]
    assert found == [(FIRE_SKETCH.stem, "derivative", False)]
    assert verdicts[0].scores()["tier"] == "derivative"


def test_phone_screenshot_with_signature_out_of_view_reports_it_cut(hn_app: Inkseal) -> None:
    wid = next(w.id for w in hn_app.works() if w.title == "kodim19")
    wf, path = hn_app.publish(wid, signature="© Li Spring Breeze")
    shot, truth = localisation_set.signature_cut_phone(rgb(path), random.Random(4), wf.regions["signature"])
    (v,) = hn_app.match_image(jpeg(shot, 80))
    assert v.work_id == wid and v.tier == "copy"
    assert v.localisation.regions["signature"]["status"] == "cut"
    # the outline is the part of the picture the app shows, not the app's bars and caption
    assert localisation_set.iou(truth, v.localisation.polygon_in_original) >= 0.85


def test_scores_have_margin_not_one_capped_value(hn_app: Inkseal, kodak: list[Path]) -> None:
    plain = hn_app.match_image(jpeg(rgb(kodak[18]), 90))[0]
    small = rgb(kodak[18])[100:300, 200:500]
    smaller = np.asarray(Image.fromarray(small).resize((150, 100)))
    cropped = hn_app.match_image(jpeg(smaller, 40))[0]
    assert plain.tier == cropped.tier == "copy"
    assert plain.score > cropped.score  # weaker pixel evidence, lower score: not one capped value
    for v in (plain, cropped):
        s = v.scores()
        assert s["score"] == min(s["keypoint_score"], s["pixel_score"])
        assert s["margin"] == pytest.approx(v.score - 3.0, abs=0.01)
        assert s["pixel_margin"] > 0 and s["keypoint_score"] >= 3.0


def test_a_removed_works_file_id_reused_by_the_next_file_is_not_confused(tmp_path: Path, kodak: list[Path]) -> None:
    # SQLite gives the next file the id of the one just removed; the matcher's caches must not
    # verify the new picture against the removed one's features.
    app = Inkseal.open(tmp_path / "home")
    try:
        app.register(kodak[:2], author="artist")
        gone = app.register([kodak[2]], author="artist").items[0]
        assert [v.work_id for v in app.match_image(kodak[2].read_bytes())] == [gone.work_id]
        app.remove_work(gone.work_id)
        new = app.register([kodak[3]], author="artist").items[0]
        assert [(v.work_id, v.tier) for v in app.match_image(kodak[3].read_bytes())] == [(new.work_id, "copy")]
    finally:
        app.close()


BERRY = sorted((HARDNEG / "photo_dreambooth_berry_bowl").glob("*.jpg"))


@pytest.mark.skipif(len(BERRY) < 5, reason="berry-bowl burst shots not available")
def test_a_copy_of_one_burst_shot_is_not_also_a_copy_of_its_twin(tmp_path: Path) -> None:
    # 03 and 04 are two shots of one bowl a moment apart (hardneg: different pictures): at 512 px
    # their pixels agree over most of the frame, so each passes the copy test against a copy of the
    # other. With both registered, only the one the copy agrees with best is its source.
    app = Inkseal.open(tmp_path / "home")
    try:
        twin_03, twin_04 = (app.register([BERRY[i]], author="a").items[0].work_id for i in (3, 4))
        suspect = np.asarray(Image.open(io.BytesIO(jpeg(rgb(BERRY[3]), 50))).convert("RGB"))
        verdicts = app.matcher.match(suspect, localise_matches=False, keep_non_matches=True)
        by_work = {v.work_id: v for v in verdicts}
        assert by_work[twin_03].tier == "copy"
        assert twin_04 in by_work, "the twin should at least be a candidate, or this test proves nothing"
        twin = by_work[twin_04]
        assert twin.tier is None and twin.extra["explained_by"]["work_id"] == twin_03
        # On a shared installation another account's works are not considered at all: neither shown nor
        # used to judge (its pictures never leak into a verdict's `explained_by`).
        own = app.matcher.match(suspect, localise_matches=False, keep_non_matches=True, only_works={twin_04})
        assert own and {v.work_id for v in own} == {twin_04}
        assert "explained_by" not in own[0].extra
    finally:
        app.close()


def test_a_registered_file_whose_bytes_are_gone_is_never_a_copy_and_no_crash(tmp_path: Path, kodak: list[Path]) -> None:
    app = Inkseal.open(tmp_path / "home")
    try:
        wid = app.register([kodak[3]], author="a").items[0].work_id
        sha = app.work(wid).files[0].sha256
        suspect = np.asarray(Image.open(io.BytesIO(jpeg(rgb(kodak[3]), 60))).convert("RGB"))
        assert [v.tier for v in app.matcher.match(suspect)] == ["copy"]  # control: found while the bytes exist
        app.registry.objects.path(sha).unlink()
        fresh = Inkseal.open(tmp_path / "home")  # no cached pixels
        try:
            verdicts = fresh.matcher.match(suspect, keep_non_matches=True)
            assert verdicts and all(v.tier is None for v in verdicts)
            assert "missing" in verdicts[0].extra["unchecked"]
        finally:
            fresh.close()
    finally:
        app.close()
