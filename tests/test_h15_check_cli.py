"""Issue 15 part 1 through the real CLI: `inkseal check [--json]`, and `check --propagate`.

Propagation must change the label's two platform fields and nothing else: the decoded pixels are
compared array to array, and every chunk / segment other than the label carriers byte for byte."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

import inkseal.cli_platform  # noqa: F401 - registers `check` (cli.py imports it at the bottom once wired)
from inkseal.cli import app as cli
from inkseal.journal.importers.labels import implicit_labels
from inkseal.journal.metadata import read_metadata
from inkseal.platform.labels import label_carriers
from inkseal.seal.carriers import jpeg_segments, png_chunks, webp_chunks, write_carriers
from inkseal.seal.xmp import AIGCLabel, RightsMetadata, build_xmp


def run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def labelled(kodak: list[Path], fmt: str, i: int = 0, **extra: object) -> bytes:
    rgb = Image.open(kodak[i]).convert("RGB").resize((320, 224))
    buf = io.BytesIO()
    if fmt == "PNG":  # another tool's chunk, which propagation must leave alone
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", "Example Generator 3")
        rgb.save(buf, "PNG", pnginfo=info)
    else:
        rgb.save(buf, fmt, quality=80, **extra)
    lab = AIGCLabel(content_producer="即梦 Jimeng", produce_id="jm-77", reserved_code1="SM3:abcd").as_json()
    xmp = build_xmp(RightsMetadata(AIGCLabel(**{"content_producer": "即梦 Jimeng", "produce_id": "jm-77",
                                                "reserved_code1": "SM3:abcd"}), creator="c", rights="r"))
    return write_carriers(buf.getvalue(), fmt, xmp=xmp, label=lab)


def others(data: bytes, fmt: str) -> list[bytes]:
    """Every chunk / segment that is not a label carrier, as raw bytes."""
    if fmt == "PNG":
        return [whole for kind, body, whole in png_chunks(data)
                if not (kind in (b"tEXt", b"iTXt") and body.split(b"\0")[0] in (b"AIGC", b"XML:com.adobe.xmp"))]
    if fmt == "JPEG":
        segs, rest = jpeg_segments(data)
        return [w for m, w in segs if not (m == 0xE1 and w[4:].startswith((b"Exif", b"http://ns.adobe.com/xap")))] + [rest]
    return [k + b for k, b in webp_chunks(data) if k not in (b"EXIF", b"XMP ", b"VP8X")]


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_propagate_fills_every_carrier_and_changes_nothing_else(tmp_path: Path, kodak: list[Path], fmt: str) -> None:
    src = tmp_path / f"in.{fmt.lower()}"
    src.write_bytes(labelled(kodak, fmt))
    before = src.read_bytes()
    dst = tmp_path / f"out.{fmt.lower()}"
    res = run(tmp_path / "home", "check", "--propagate", "--platform", "小红书 RED", "--propagate-id", "red-42",
              "-o", str(dst), str(src), "--json")
    assert res.exit_code == 0, res.output
    assert src.read_bytes() == before  # the input is never touched
    after = dst.read_bytes()
    assert np.array_equal(pixels(before), pixels(after))
    assert others(before, fmt) == others(after, fmt)
    old = {x["carrier"]: x["label"] for x in implicit_labels(read_metadata(before))}
    new = {x["carrier"]: x["label"] for x in implicit_labels(read_metadata(after))}
    assert set(new) == set(old) and len(new) == 2
    for carrier, lab in new.items():
        assert lab == {**old[carrier], "ContentPropagator": "小红书 RED", "PropagateID": "red-42"}
    report = json.loads(res.stdout)
    assert sorted(report["carriers"]) == sorted(new)
    # and `check` now reads a valid, propagated, consistent label
    (rep,) = json.loads(run(tmp_path / "home", "check", str(dst), "--json").stdout)
    assert rep["tier"] == "confirmed" and not {f["code"] for f in rep["findings"]} - {"code_unverified"}
    # a second platform takes the one propagator slot, and says whose data it replaced
    res = run(tmp_path / "home", "check", "--propagate", "--platform", "B站", "--propagate-id", "b-1", "-o",
              str(tmp_path / f"twice.{fmt.lower()}"), str(dst), "--json")
    assert res.exit_code == 0 and any("'小红书 RED'" in n and "'red-42'" in n for n in json.loads(res.stdout)["notes"])


def test_propagate_keeps_foreign_xmp_and_a_lossy_simple_webp(tmp_path: Path, kodak: list[Path]) -> None:
    """Attribute-form XMP from another tool, in a simple-format lossy WebP (no VP8X header yet)."""
    buf = io.BytesIO()
    Image.open(kodak[1]).convert("RGB").resize((200, 150)).save(buf, "WEBP", quality=70)
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- kept --><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description xmlns:tc="http://www.tc260.org.cn/ns/AIGC/1.0/" xmlns:foo="urn:foo" foo:bar="1" '
              'tc:AIGC=\'{"Label":"1","ContentProducer":"P &amp; Q","ProduceID":"id1","ReservedCode1":"",'
              '"ContentPropagator":"","PropagateID":"","ReservedCode2":""}\'/></rdf:RDF></x:xmpmeta>')
    data = write_carriers(buf.getvalue(), "WEBP", xmp=packet.encode())
    assert webp_chunks(buf.getvalue())[0][0] != b"VP8X"
    src, dst = tmp_path / "a.webp", tmp_path / "b.webp"
    src.write_bytes(data)
    assert run(tmp_path / "h", "check", "--propagate", "--platform", "P", "--propagate-id", "9", "-o", str(dst),
               str(src)).exit_code == 0
    out = dst.read_bytes()
    assert np.array_equal(pixels(data), pixels(out))
    xmp = read_metadata(out).xmp
    assert "<!-- kept -->" in xmp and 'foo:bar="1"' in xmp
    (lab,) = label_carriers(read_metadata(out))  # the journal's reader wants the prefix TC260; this one any
    assert lab["label"]["ContentProducer"] == "P & Q" and lab["label"]["ContentPropagator"] == "P"


def test_propagate_refuses_cleanly(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    src = tmp_path / "a.png"
    src.write_bytes(labelled(kodak, "PNG"))
    res = run(home, "check", "--propagate", "--platform", "P", "-o", str(src), str(src))
    assert res.exit_code == 2 and "never overwritten" in res.output
    (tmp_path / "exists.png").write_bytes(b"x")
    res = run(home, "check", "--propagate", "--platform", "P", "-o", str(tmp_path / "exists.png"), str(src))
    assert res.exit_code == 2 and (tmp_path / "exists.png").read_bytes() == b"x"
    plain = tmp_path / "plain.png"
    Image.open(kodak[2]).convert("RGB").resize((64, 64)).save(plain)
    res = run(home, "check", "--propagate", "--platform", "P", "-o", str(tmp_path / "o.png"), str(plain))
    assert res.exit_code == 1 and "no implicit label" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o.png").exists()
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", '{"Label": "1", ')
    Image.open(kodak[2]).convert("RGB").resize((64, 64)).save(plain, pnginfo=info)
    res = run(home, "check", "--propagate", "--platform", "P", "-o", str(tmp_path / "o.png"), str(plain))
    assert res.exit_code == 1 and "malformed" in res.output and not (tmp_path / "o.png").exists()


def test_check_json_over_a_folder_with_bad_files(tmp_path: Path, kodak: list[Path]) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "label.jpg").write_bytes(labelled(kodak, "JPEG", 3))
    Image.open(kodak[4]).convert("RGB").resize((256, 256)).save(folder / "plain.png")
    (folder / "broken.png").write_bytes(labelled(kodak, "PNG", 5)[:300])
    (folder / "empty.webp").write_bytes(b"")
    res = run(tmp_path / "home", "check", str(folder), "--json")
    assert res.exit_code == 1  # some failed
    reports = {Path(r["file"]).name: r for r in json.loads(res.stdout)}
    assert set(reports) == {"label.jpg", "plain.png", "broken.png", "empty.webp"}
    assert reports["label.jpg"]["tier"] == "confirmed" and reports["plain.png"]["tier"] == "none"
    for bad in ("broken.png", "empty.webp"):
        assert "\n" not in reports[bad]["error"] and "tier" not in reports[bad]
    assert "Traceback" not in res.output
    text = run(tmp_path / "home", "check", str(folder))
    assert "1 confirmed" in text.stdout and "2 failed" in text.stdout and "已确认为生成合成内容" in text.stdout
    assert run(tmp_path / "home", "check", str(folder / "label.jpg")).exit_code == 0


def test_check_survives_hostile_and_odd_files(tmp_path: Path, kodak: list[Path]) -> None:
    """Every hostile file is one line (or a result), the batch goes on, the good file is still confirmed."""
    from badfiles import broken, odd_modes, png_bomb

    folder = tmp_path / "in"
    folder.mkdir()
    files = {**{f"broken-{k}": v for k, v in broken().items()}, **{f"odd-{k}": v for k, v in odd_modes().items()},
             "bomb": png_bomb()}
    for name, data in files.items():
        (folder / f"{name}.png").write_bytes(data)
    jpeg = labelled(kodak, "JPEG", 6)
    (folder / "hostile-exif.jpg").write_bytes(jpeg[:2] + b"\xff\xe1\x00\x20Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"
                                              + b"\xff" * 16 + jpeg[2:])
    (folder / "good.jpg").write_bytes(jpeg)
    res = run(tmp_path / "home", "check", str(folder), "--json")
    assert "Traceback" not in res.output and res.exit_code in (0, 1)
    reports = {Path(r["file"]).name: r for r in json.loads(res.stdout)}
    assert len(reports) == len(files) + 2 and reports["good.jpg"]["tier"] == "confirmed"
    for r in reports.values():
        assert ("tier" in r) != ("error" in r)
        assert "error" not in r or "\n" not in r["error"]
    res = run(tmp_path / "home", "check", "--propagate", "--platform", "P", "-o", str(tmp_path / "o.jpg"),
              str(folder / "hostile-exif.jpg"))
    assert "Traceback" not in res.output and res.exit_code in (0, 1)
