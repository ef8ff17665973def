"""Issue 15 part 1: GB 45438 implicit labels in each carrier, their validation, and the Art. 6 tiers.

Files are built with real encoders (Pillow, invisible-watermark, c2pa-python); labels are written by
`seal.carriers` and read back through the journal's metadata reader, as `inkseal check` does."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, PngImagePlugin

from inkseal.platform.tiers import CheckOptions, check_bytes
from inkseal.seal.carriers import user_comment, write_carriers
from inkseal.seal.service import content_binding
from inkseal.seal.xmp import AIGCLabel, RightsMetadata, build_xmp

FMTS = ["PNG", "JPEG", "WEBP"]


def photo(kodak: list[Path], i: int = 0, size: tuple[int, int] = (384, 256)) -> np.ndarray:
    return np.asarray(Image.open(kodak[i]).convert("RGB").resize(size))


def encoded(rgb: np.ndarray, fmt: str, pnginfo: PngImagePlugin.PngInfo | None = None) -> bytes:
    buf = io.BytesIO()
    kw = {"pnginfo": pnginfo} if pnginfo else {"quality": 85} if fmt != "PNG" else {}
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def label(**kw: str) -> dict[str, str]:
    base = AIGCLabel(content_producer="豆包 Doubao", produce_id="dbx-2026-0001", reserved_code1="SM3:9f86d081").as_json()
    return {**base, **kw}


def xmp_of(lab: dict[str, str]) -> bytes:
    """A packet with `lab` (any dict) as TC260:AIGC and nothing claiming AI besides it."""
    meta = RightsMetadata(AIGCLabel(), creator="x", rights="r", digital_source_type="http://cv.iptc.org/newscodes/"
                          "digitalsourcetype/digitalCapture")
    packet = build_xmp(meta).decode()
    start = packet.index('{"Label"')
    end = packet.index("</TC260:AIGC>")
    from xml.sax.saxutils import escape

    return (packet[:start] + escape(json.dumps(lab, ensure_ascii=False)) + packet[end:]).encode()


def check(data: bytes, **kw: object) -> dict:
    return check_bytes(data, CheckOptions(**kw))  # type: ignore[arg-type]


def codes(rep: dict) -> set[str]:
    return {f["code"] for f in rep["findings"]}


# -- each carrier, read and written ------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("carrier", ["xmp", "text"])
def test_each_carrier_alone_is_read_and_confirmed(kodak: list[Path], fmt: str, carrier: str) -> None:
    rgb = photo(kodak)
    lab = label()
    data = write_carriers(encoded(rgb, fmt), fmt, xmp=xmp_of(lab) if carrier == "xmp" else None,
                          label=lab if carrier == "text" else None)
    rep = check(data)
    expected = "XMP TC260:AIGC" if carrier == "xmp" else "PNG tEXt chunk 'AIGC'" if fmt == "PNG" else "EXIF UserComment"
    assert [c["carrier"] for c in rep["labels"]] == [expected]
    assert rep["labels"][0]["label"] == lab and rep["labels"][0]["valid"]
    assert rep["tier"] == "confirmed" and expected in rep["reason"]["en"] and expected in rep["reason"]["zh"]
    # another producer's code is present, never "verified"
    assert rep["labels"][0]["signature"] == "present, not verified" and codes(rep) == {"code_unverified"}
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")),
                          np.asarray(Image.open(io.BytesIO(encoded(rgb, fmt))).convert("RGB")))


def test_exif_label_plain_and_wrapped_and_third_party_writers(kodak: list[Path]) -> None:
    """A UserComment written by Pillow's own EXIF writer (not ours), plain JSON and {"AIGC": ...}."""
    rgb = photo(kodak, 1)
    for wrapped in (False, True):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9286] = user_comment(label(), wrapped)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", exif=exif.tobytes())
        rep = check(buf.getvalue())
        assert rep["tier"] == "confirmed" and rep["labels"][0]["carrier"] == "EXIF UserComment"
    # a broken label in UserComment is a finding, not silently skipped as "not A1111 parameters"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\0\0\0" + b'{"AIGC": {"Label": "1", "ContentProducer": '
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", exif=exif.tobytes())
    rep = check(buf.getvalue())
    assert codes(rep) == {"unreadable"} and "EXIF UserComment" in rep["findings"][0]["en"]
    # PNG text chunk written by Pillow, wrapped form; and as iTXt (UTF-8, what Pillow picks for non-Latin-1)
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", json.dumps({"AIGC": label()}))
    assert check(encoded(rgb, "PNG", info))["tier"] == "confirmed"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("AIGC", json.dumps(label(), ensure_ascii=False))
    rep = check(encoded(rgb, "PNG", info))
    assert rep["tier"] == "confirmed" and rep["labels"][0]["carrier"] == "PNG iTXt chunk 'AIGC'"
    assert rep["labels"][0]["label"]["ContentProducer"] == "豆包 Doubao"


# -- Art. 6 tiers --------------------------------------------------------------------------------------
def test_label_values_2_and_3_are_possible_and_suspected(kodak: list[Path]) -> None:
    rgb = photo(kodak, 2)
    for value, tier in (("2", "possible"), ("3", "suspected")):
        rep = check(write_carriers(encoded(rgb, "PNG"), "PNG", xmp=xmp_of(label(Label=value))))
        assert rep["tier"] == tier and f'Label "{value}"' in rep["reason"]["en"]


def test_possible_from_c2pa_generator_metadata_declaration_and_visible_label(kodak: list[Path]) -> None:
    from test_journal_formats import c2pa_signed_png

    c2pa_png, _ca = c2pa_signed_png()
    rep = check(c2pa_png)
    assert rep["tier"] == "possible"
    (s,) = [e for e in rep["evidence"] if e["signal"] == "c2pa_source_type"]
    assert "c2pa.created digitalSourceType" in s["where"] and "trainedAlgorithmicMedia" in s["en"]

    rgb = photo(kodak, 3)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, "
                                "Size: 384x256, Model: sd15")
    rep = check(encoded(rgb, "PNG", info))
    assert rep["tier"] == "possible" and rep["evidence"][0]["where"] == "PNG tEXt chunk 'parameters'"

    assert check(encoded(rgb, "PNG"), declared=True)["evidence"][0]["signal"] == "declared"

    from inkseal.seal.label import add_ai_label

    for corner in ("top-left", "bottom-right"):
        labelled, _box = add_ai_label(rgb, corner=corner)
        rep = check(encoded(labelled, "JPEG"))
        assert rep["tier"] == "possible" and rep["evidence"][0]["where"] == f"pixels, {corner} corner"
        assert "OCR" in rep["not_checked"]["other_explicit_labels"]


def test_suspected_from_stable_diffusion_mark_only_and_none(kodak: list[Path]) -> None:
    imwatermark = pytest.importorskip("imwatermark", reason="invisible-watermark is installed by make test")
    import cv2

    from inkseal.seal.sdmarks import MARKS

    rgb = np.asarray(Image.open(kodak[2]).convert("RGB"))  # its SDXL mark reads 48/48 (FIELD-NOTES: dwtDct is weak)
    assert check(encoded(rgb, "PNG"))["tier"] == "none"
    enc = imwatermark.WatermarkEncoder()
    enc.set_watermark("bits", MARKS["SDXL"].tolist())
    marked = cv2.cvtColor(enc.encode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDct"), cv2.COLOR_BGR2RGB)
    rep = check(encoded(marked, "PNG"))
    assert rep["tier"] == "suspected"
    (s,) = rep["evidence"]
    assert s["signal"] == "stable_diffusion_mark" and "SDXL" in s["en"] and "detector signal only" in s["en"]
    assert check(encoded(marked, "PNG"), detectors=False)["tier"] == "none"


# -- one label per file, malformed labels ------------------------------------------------------------------
def test_conflicting_carriers_are_a_finding(kodak: list[Path]) -> None:
    rgb = photo(kodak, 6)
    data = write_carriers(encoded(rgb, "JPEG"), "JPEG", xmp=xmp_of(label()), label=label(Label="3", ProduceID="other"))
    rep = check(data)
    (conflict,) = [f for f in rep["findings"] if f["code"] == "conflict"]
    assert "Label" in conflict["en"] and "ProduceID" in conflict["en"] and "EXIF UserComment" in conflict["en"]
    assert rep["tier"] == "confirmed"  # one carrier still holds a valid "1": stated, with the conflict beside it


BAD = {
    "bad json": ('{"Label": "1", "ContentProducer": ', "unreadable"),
    "missing keys": (json.dumps({"Label": "1", "ContentProducer": "x"}), "missing_keys"),
    "unknown key": (json.dumps({**label(), "Extra": "y"}), "unknown_keys"),
    "label 4": (json.dumps(label(Label="4")), "bad_label"),
    "number label": (json.dumps({**label(), "Label": 1}), "not_text"),
    "list label": (json.dumps({**label(), "Label": ["1"], "ProduceID": {"a": 1}}), "not_text"),
    "huge value": (json.dumps(label(ReservedCode1="A" * 9000)), "too_long"),
    "control chars": (json.dumps(label(ContentProducer="x\u0007y")), "control"),
    "empty producer": (json.dumps(label(ContentProducer="")), "empty"),
    "half propagation": (json.dumps(label(PropagateID="p-1")), "propagate_half"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("carrier", ["xmp", "text"])
def test_malformed_labels_give_one_line_findings(kodak: list[Path], case: str, carrier: str) -> None:
    text, code = BAD[case]
    rgb = photo(kodak, 7, (96, 64))
    if carrier == "xmp":
        from xml.sax.saxutils import escape

        packet = xmp_of(label()).decode().replace(escape(json.dumps(label(), ensure_ascii=False)), escape(text))
        data = write_carriers(encoded(rgb, "PNG"), "PNG", xmp=packet.encode())
    else:
        info = PngImagePlugin.PngInfo()
        info.add_text("AIGC", text)
        data = encoded(rgb, "PNG", info)
    rep = check(data)
    assert code in codes(rep), rep["findings"]
    for f in rep["findings"]:
        assert "\n" not in f["en"] and "\n" not in f["zh"] and len(f["en"]) < 400
    # an invalid label confirms nothing, but it is a producer's claim: possible, with the reason
    assert "malformed_label" in {e["signal"] for e in rep["evidence"]} and rep["tier"] == "possible"


def test_huge_text_chunk_is_refused_in_one_line(kodak: list[Path]) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", json.dumps(label(ReservedCode2="Z" * 200_000)))
    rep = check(encoded(photo(kodak, 8, (96, 64)), "PNG", info))
    assert codes(rep) == {"unreadable"} and rep["tier"] == "possible"
    assert len(json.dumps(rep)) < 20_000  # the 200 KB value is not echoed back


# -- our own signature in ReservedCode1 -------------------------------------------------------------------
def test_inkseal_signature_verified_invalid_or_unverified(kodak: list[Path]) -> None:
    key = Ed25519PrivateKey.generate()
    rgb = photo(kodak, 9)
    png = encoded(rgb, "PNG")
    sig = key.sign(content_binding(rgb.tobytes(), "inkseal:work:4"))
    lab = label(ProduceID="inkseal:work:4", ContentProducer="Li", ReservedCode1=base64.b64encode(sig).decode())
    good = write_carriers(png, "PNG", xmp=xmp_of(lab), label=lab)
    rep = check(good, keys=[key.public_key()])
    assert [c["signature"] for c in rep["labels"]] == ["verified", "verified"] and rep["findings"] == []
    rep = check(good, keys=[Ed25519PrivateKey.generate().public_key()])
    assert "signature_bad" in codes(rep) and "signed by a key not given" in rep["findings"][0]["en"]
    assert "signature_no_key" in codes(check(good))
    other = rgb.copy()
    other[:8, :8] = 0
    moved = write_carriers(encoded(other, "PNG"), "PNG", xmp=xmp_of(lab))
    assert "signature_bad" in codes(check(moved, keys=[key.public_key()]))
    forged = write_carriers(png, "PNG", xmp=xmp_of({**lab, "ReservedCode1": "bm90IGEgc2lnbmF0dXJl"}))
    assert "signature_malformed" in codes(check(forged, keys=[key.public_key()]))


def test_tiny_metadata_only_picture_is_checked(kodak: list[Path]) -> None:
    data = write_carriers(encoded(np.zeros((1, 1, 3), np.uint8), "PNG"), "PNG", label=label())
    assert check(data)["tier"] == "confirmed"
