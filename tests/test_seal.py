"""`inkseal seal` and `inkseal inspect` through the real CLI: sealed, stripped, re-encoded and third-party files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inkseal.cli import app as cli
from inkseal.seal.c2pa_sign import validate

PASS = "correct horse battery"


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path]) -> dict:
    import os

    os.environ["INKSEAL_PASSPHRASE"] = PASS
    tmp = tmp_path_factory.mktemp("seal")
    home = str(tmp / "home")
    r = CliRunner()

    def run(*a: str):  # type: ignore[no-untyped-def]
        return r.invoke(cli, ["--home", home, *a], catch_exceptions=False)

    assert run("keys", "init").exit_code == 0
    assert run("register", str(kodak[3]), "--author", "Li", "--title", "春风送来了温柔").exit_code == 0
    out = {}
    for fmt in ("png", "jpg"):
        res = run("seal", "1", "-o", str(tmp / f"sealed.{fmt}"), "--signature", "© Li", "--json")
        assert res.exit_code == 0, res.output
        out[fmt] = tmp / f"sealed.{fmt}"
    yield {"run": run, "tmp": tmp, "home": home, **out}
    del os.environ["INKSEAL_PASSPHRASE"]


def manifest_span(data: bytes) -> tuple[int, int]:
    """Byte range of the embedded C2PA store (PNG caBX chunk / JPEG APP11 segments)."""
    import struct

    if data[:4] == b"\x89PNG":
        pos = 8
        while pos < len(data):
            (n,) = struct.unpack(">I", data[pos:pos + 4])
            if data[pos + 4:pos + 8] == b"caBX":
                return pos, pos + 12 + n
            pos += 12 + n
    start = end = None
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        n = int.from_bytes(data[pos + 2:pos + 4], "big")
        if data[pos + 1] == 0xEB:
            start = pos if start is None else start
            end = pos + 2 + n
        pos += 2 + n
    return (start or 0, end or 0)


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_sealed_file_is_trusted_and_breaks_on_any_change(sealed: dict, fmt: str) -> None:
    data = sealed[fmt].read_bytes()
    anchor = (Path(sealed["home"]) / "keys" / "c2pa" / "anchor.pem").read_bytes()
    kind = "PNG" if fmt == "png" else "JPEG"
    assert validate(data, kind, anchor)["state"] == "Trusted"
    start, end = manifest_span(data)
    for pos in range(0, len(data), max(1, len(data) // 40)):  # bytes spread over the whole image file
        if start <= pos < end:
            continue  # the manifest's own zero padding is not part of the image
        b = bytearray(data)
        b[pos] ^= 0x04
        assert validate(bytes(b), kind, anchor)["state"] != "Trusted", pos


def test_inspect_sealed_file(sealed: dict) -> None:
    res = sealed["run"]("inspect", str(sealed["png"]), "--json")
    assert res.exit_code == 0, res.output
    (rep,) = json.loads(res.stdout)
    assert rep["implicit_label"]["present"] and rep["implicit_label"]["Label"] == "1"
    assert rep["implicit_label"]["signature_valid"] is True
    assert rep["ai_generated_per_iptc"] and rep["c2pa"]["state"] == "Trusted"
    assert rep["watermark"]["detected"] and rep["watermark"]["work_id"] == 1
    assert rep["findings"] == []


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp"])
def test_sealed_file_carries_one_label_in_every_carrier_and_check_confirms(sealed: dict, fmt: str) -> None:
    """GB 45438 / TC260: XMP plus PNG tEXt `AIGC` or EXIF UserComment, the same label in each."""
    import inkseal.cli_platform  # noqa: F401 - registers `check`
    from inkseal.journal.importers.labels import implicit_labels
    from inkseal.journal.metadata import read_metadata

    path = sealed["tmp"] / f"carriers.{fmt}"
    if fmt == "webp":
        assert sealed["run"]("seal", "1", "-o", str(path), "--signature", "© Li").exit_code == 0
    else:
        path = sealed[fmt]
    found = implicit_labels(read_metadata(path.read_bytes()))
    assert {x["carrier"] for x in found} == {"XMP TC260:AIGC", "PNG tEXt chunk 'AIGC'" if fmt == "png" else "EXIF UserComment"}
    assert found[0]["label"] == found[1]["label"] and found[0]["label"]["ProduceID"] == "inkseal:work:1"
    res = sealed["run"]("check", str(path), "--json")
    assert res.exit_code == 0, res.output
    (rep,) = json.loads(res.stdout)
    assert rep["tier"] == "confirmed" and rep["findings"] == []
    assert [c["signature"] for c in rep["labels"]] == ["verified", "verified"]  # this install's own key
    anchor = (Path(sealed["home"]) / "keys" / "c2pa" / "anchor.pem").read_bytes()
    assert validate(path.read_bytes(), {"jpg": "JPEG"}.get(fmt, fmt.upper()), anchor)["state"] == "Trusted"  # signed last


def test_check_finds_our_watermark_only_with_the_keys(sealed: dict) -> None:
    """A sealed picture without its explicit label, re-saved (all metadata gone): only the watermark is left."""
    import inkseal.cli_platform  # noqa: F401 - registers `check`

    src = sealed["tmp"] / "unlabelled.png"
    assert sealed["run"]("seal", "1", "-o", str(src), "--signature", "Li", "--no-ai-label").exit_code == 0
    copy = sealed["tmp"] / "reposted.jpg"
    Image.open(src).convert("RGB").save(copy, "JPEG", quality=90)
    (plain,) = json.loads(sealed["run"]("check", str(copy), "--json").stdout)
    assert plain["tier"] == "none" and "watermark keys" in plain["not_checked"]["inkseal_watermark"]
    res = sealed["run"]("check", str(copy), "--watermark", "--json")
    assert res.exit_code == 0, res.output
    (rep,) = json.loads(res.stdout)
    assert rep["tier"] == "suspected" and rep["labels"] == []
    (s,) = rep["evidence"]
    assert s["signal"] == "inkseal_watermark" and "work 1" in s["en"] and "detector signal only" in s["en"]


def test_inspect_stripped_cropped_reencoded_copy(sealed: dict) -> None:
    im = Image.open(sealed["png"]).convert("RGB")
    w, h = im.size
    copy = im.crop((0, 0, int(w * 0.78), int(h * 0.8))).resize((int(w * 0.78 * 0.6), int(h * 0.8 * 0.6)))
    path = sealed["tmp"] / "repost.jpg"
    copy.save(path, "JPEG", quality=60)  # a re-save drops XMP and C2PA
    (rep,) = json.loads(sealed["run"]("inspect", str(path), "--json").stdout)
    codes = {f["code"] for f in rep["findings"]}
    assert rep["watermark"]["detected"] and rep["watermark"]["mode"] == "informed" and rep["watermark"]["work_id"] == 1
    assert rep["watermark"]["false_positive_probability"] < 1e-6
    assert {"c2pa_missing_but_watermark", "label_removed", "signature_cut"} <= codes
    assert rep["c2pa"]["state"] == "Absent" and not rep["implicit_label"]["present"]


def test_inspect_reports_altered_pixels_under_an_intact_label(sealed: dict) -> None:
    data = bytearray(sealed["png"].read_bytes())
    im = Image.open(io.BytesIO(bytes(data)))
    arr = np.asarray(im.convert("RGB")).copy()
    arr[10:20, 10:20] = 0
    from inkseal.seal.xmp import insert_xmp, read_xmp_bytes

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    tampered = insert_xmp(buf.getvalue(), "PNG", read_xmp_bytes(bytes(data)))  # label copied onto other pixels
    path = sealed["tmp"] / "tampered.png"
    path.write_bytes(tampered)
    (rep,) = json.loads(sealed["run"]("inspect", str(path), "--json").stdout)
    assert rep["implicit_label"]["present"] and rep["implicit_label"]["signature_valid"] is False
    assert "label_signature_bad" in {f["code"] for f in rep["findings"]}


def test_inspect_third_party_file(sealed: dict) -> None:
    from test_journal_formats import c2pa_signed_png

    data, _ca = c2pa_signed_png()
    path = sealed["tmp"] / "chatgpt-like.png"
    path.write_bytes(data)
    (rep,) = json.loads(sealed["run"]("inspect", str(path), "--json").stdout)
    assert rep["c2pa"]["state"] == "Valid" and "Example Image Service" in rep["c2pa"]["claim_generator"]
    assert not rep["watermark"]["detected"]
    assert "label_missing" in {f["code"] for f in rep["findings"]}
    assert "C2PA: Valid" in sealed["run"]("inspect", str(path)).stdout
    assert "缺少 GB 45438 隐式标识" in sealed["run"]("--lang", "zh", "inspect", str(path)).stdout


def test_turning_the_ai_label_off_warns(sealed: dict) -> None:
    res = sealed["run"]("seal", "1", "-o", str(sealed["tmp"] / "nolabel.webp"), "--signature", "李 Li",
                        "--signature-size", "0.1", "--corner", "top-right", "--no-ai-label", "--json")
    assert res.exit_code == 0 and "GB 45438-2025" in res.output
    regions = json.loads(res.stdout)["regions"]
    assert "ai_label" not in regions
    x0, y0, x1, y1 = regions["signature"]
    im = Image.open(sealed["tmp"] / "nolabel.webp")
    assert x1 > im.width * 0.6 and y0 < im.height * 0.2 and (y1 - y0) > 0.1 * min(im.size)  # bigger, top-right



def test_bring_your_own_c2pa_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inkseal.seal.certs import make_credentials

    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    creds = make_credentials("Studio Li (external CA)")
    (tmp_path / "chain.pem").write_bytes(creds.chain_pem)
    (tmp_path / "key.pem").write_bytes(creds.leaf_key_pem)
    home = str(tmp_path / "home")
    r = CliRunner()
    assert r.invoke(cli, ["--home", home, "keys", "init"]).exit_code == 0
    res = r.invoke(cli, ["--home", home, "keys", "import-c2pa", "--chain", str(tmp_path / "chain.pem"),
                         "--key", str(tmp_path / "key.pem")])
    assert res.exit_code == 0, res.output
    from inkseal import Inkseal

    app = Inkseal.open(home)
    chain, _key, anchor = app.keys.c2pa_credentials(PASS)
    assert chain == creds.chain_pem and anchor == creds.ca_cert_pem
    assert b"ENCRYPTED" in (Path(home) / "keys" / "c2pa" / "signer.key").read_bytes()


def test_stable_diffusion_marks_are_read(kodak: list[Path]) -> None:
    import os

    if os.environ.get("CI"):  # make test installs it: in CI a missing decoder is a failure, not a skip
        import imwatermark  # noqa: F401
    imwatermark = pytest.importorskip("imwatermark", reason="invisible-watermark is installed by make test")
    import cv2

    from inkseal.seal.sdmarks import MARKS, check

    marked, unmarked = [], []
    for p in kodak[:8]:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        enc = imwatermark.WatermarkEncoder()
        enc.set_watermark("bits", MARKS["SDXL"].tolist())
        sd = cv2.cvtColor(enc.encode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDct"), cv2.COLOR_BGR2RGB)
        marked.append(check(sd)["SDXL"]["verdict"])
        unmarked.append(check(rgb)["SDXL"]["verdict"])
    assert unmarked == ["none"] * 8
    assert "none" not in marked and marked.count("very likely") >= 4
