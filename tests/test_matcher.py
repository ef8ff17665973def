"""The matcher finds copies through what infringers do, localises them, and stays quiet otherwise."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from conftest import rgb
from inkseal import Inkseal
from inkseal.match.calibration import SCORE_CAP
from inkseal.match.calibration import load as load_calibration


def jpeg(arr: np.ndarray, q: int = 75) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=q)
    return buf.getvalue()


def page_with(pictures: list[np.ndarray], width: int = 1280) -> np.ndarray:
    page = Image.new("RGB", (width, 1500), (248, 248, 246))
    d = ImageDraw.Draw(page)
    for y in range(40, 300, 24):
        d.text((120, y), "Some article text around the picture, as on a news site " * 2, fill=(30, 30, 30))
    x = 120
    for p in pictures:
        im = Image.fromarray(p)
        im = im.resize((480, int(480 * im.height / im.width)))
        page.paste(im, (x, 360))
        x += 520
    return np.asarray(page)


ATTACKS = {
    "jpeg q30": lambda a: a,
    "resize x0.25": lambda a: np.asarray(Image.fromarray(a).resize((a.shape[1] // 4, a.shape[0] // 4))),
    "flip": lambda a: a[:, ::-1].copy(),
    "rotate 10": lambda a: np.asarray(Image.fromarray(a).rotate(10, expand=True)),
    "crop 30% area": lambda a: a[150:150 + 280, 250:250 + 420],
    "aspect squeeze": lambda a: np.asarray(Image.fromarray(a).resize((a.shape[1] // 2, a.shape[0] * 2 // 3))),
    "colour + text": lambda a: _colour_text(a),
    "page screenshot": lambda a: page_with([a]),
}


def _colour_text(a: np.ndarray) -> np.ndarray:
    im = ImageEnhance.Color(ImageEnhance.Brightness(Image.fromarray(a)).enhance(1.3)).enhance(0.4)
    ImageDraw.Draw(im).text((30, 200), "REPOST 转载 @thief", fill=(255, 255, 0), font_size=60)
    return np.asarray(im)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("index", [0, 7, 22])
def test_attacked_copies_are_found(kodak_app: Inkseal, kodak: list[Path], attack: str, index: int) -> None:
    original = rgb(kodak[index])
    data = jpeg(ATTACKS[attack](original), 30 if attack == "jpeg q30" else 80)
    verdicts = kodak_app.match_image(data)
    expected = kodak_app.registry.files_by_sha256(__import__("hashlib").sha256(kodak[index].read_bytes()).hexdigest())
    assert verdicts, f"{attack} copy of {kodak[index].name} not found"
    assert verdicts[0].work_id == expected[0].work_id
    assert verdicts[0].tier == "copy"
    assert verdicts[0].scores()["keypoint_score"] >= 3.0  # at most one false match in a thousand unrelated suspects
    assert verdicts[0].mirrored == (attack == "flip")


def test_collage_yields_every_work(kodak_app: Inkseal, kodak: list[Path]) -> None:
    data = jpeg(page_with([rgb(kodak[2]), rgb(kodak[12])]), 85)
    titles = {kodak_app.work(v.work_id).title for v in kodak_app.match_image(data)}
    assert {"kodim03", "kodim13"} <= titles


def test_unrelated_images_do_not_match(kodak_app: Inkseal, flowers: list[Path]) -> None:
    rng = random.Random(3)
    sample = rng.sample(flowers, 40)
    false = [p.name for p in sample if kodak_app.match_image(p.read_bytes())]
    # synthetic pages with text only, and flat images
    blank = np.full((600, 800, 3), 240, np.uint8)
    false += ["text page"] if kodak_app.match_image(jpeg(page_with([]))) else []
    false += ["blank"] if kodak_app.match_image(jpeg(blank)) else []
    assert false == []


def test_localisation_of_a_known_crop(kodak_app: Inkseal, kodak: list[Path]) -> None:
    original = rgb(kodak[5])  # 768 x 512
    x0, y0, x1, y1 = 40, 60, 560, 470
    (v,) = kodak_app.match_image(jpeg(original[y0:y1, x0:x1], 85))
    loc = v.localisation
    truth = (x1 - x0) * (y1 - y0) / (768 * 512)
    assert abs(loc.visible_fraction - truth) < 0.08
    xs = [p[0] for p in loc.polygon_in_original]
    ys = [p[1] for p in loc.polygon_in_original]
    assert abs(min(xs) - x0) < 40 and abs(max(xs) - x1) < 40 and abs(min(ys) - y0) < 40 and abs(max(ys) - y1) < 40
    assert set(loc.cut_sides) == {"left", "right", "top", "bottom"}
    assert abs(loc.cut_sides["right"] - (768 - x1) / 768) < 0.06
    sx = [p[0] for p in loc.polygon_in_suspect]
    assert min(sx) > -15 and max(sx) < (x1 - x0) + 15  # it sits in the suspect's own frame


@pytest.fixture(scope="module")
def published(kodak_app: Inkseal) -> tuple[int, np.ndarray, list[int]]:
    wid = next(w.id for w in kodak_app.works() if w.title == "kodim19")
    wf, path = kodak_app.publish(wid, signature="© Li Spring Breeze")
    return wid, rgb(path), wf.regions["signature"]


def test_signature_cut_off_is_reported(kodak_app: Inkseal, published: tuple[int, np.ndarray, list[int]]) -> None:
    wid, signed, box = published
    h, w = signed.shape[:2]
    cut = signed[: box[1] - 8, : box[0] - 8]  # everything above and left of the signature
    (v,) = kodak_app.match_image(jpeg(np.asarray(Image.fromarray(cut).resize((cut.shape[1] // 2, cut.shape[0] // 2)))))
    assert v.work_id == wid
    sig = v.localisation.regions["signature"]
    assert sig["status"] == "cut" and sig["present"] < 0.2
    assert {"right", "bottom"} <= set(v.localisation.cut_sides)


def test_signature_painted_over_is_reported(kodak_app: Inkseal, published: tuple[int, np.ndarray, list[int]]) -> None:
    wid, signed, box = published
    im = Image.fromarray(signed.copy())
    ImageDraw.Draw(im).rectangle(box, fill=(90, 120, 60))
    (v,) = kodak_app.match_image(jpeg(np.asarray(im)))
    assert v.work_id == wid and v.localisation.regions["signature"]["status"] == "altered"


def test_signature_kept_is_reported_intact(kodak_app: Inkseal, published: tuple[int, np.ndarray, list[int]]) -> None:
    wid, signed, _box = published
    (v,) = kodak_app.match_image(jpeg(signed, 70))
    assert v.work_id == wid and v.localisation.regions["signature"]["status"] == "intact"


def test_score_is_expected_false_matches() -> None:
    cal = load_calibration()
    weak = cal.score(cosine=0.1, n_refs=1000, inliers=0, n_verified=4)
    strong = cal.score(cosine=0.1, n_refs=1000, inliers=200, n_verified=4)
    assert weak < 0 < 3 < strong  # a weak cosine alone in a big index is no evidence
    # more references searched or more candidates tried can only make the same evidence weaker
    for c, k in ((0.95, 0), (0.5, 12), (0.3, 30)):
        base = cal.score(cosine=c, n_refs=1000, inliers=k, n_verified=4)
        assert cal.score(cosine=c, n_refs=100_000, inliers=k, n_verified=4) <= base
        assert cal.score(cosine=c, n_refs=1000, inliers=k, n_verified=40) <= base
    # geometric evidence dominates: ten times more tries costs exactly one decade
    a = cal.score(cosine=0.1, n_refs=10, inliers=40, n_verified=1)
    b = cal.score(cosine=0.1, n_refs=10, inliers=40, n_verified=10)
    assert a - b == pytest.approx(1.0, abs=1e-9)
    assert cal.score(cosine=0.99, n_refs=1, inliers=5000, n_verified=1) == SCORE_CAP
