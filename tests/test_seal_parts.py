"""Seal building blocks: XMP implicit label (checked by a parser independent of our writer), the
explicit AI label, and C2PA manifests that validate Trusted with our CA and break on any change."""

from __future__ import annotations

import io
import json
import re
import xml.dom.minidom

import numpy as np
import pytest
from PIL import Image

from inkseal.seal.c2pa_sign import ManifestInput, sign, validate
from inkseal.seal.certs import make_credentials
from inkseal.seal.label import add_ai_label
from inkseal.seal.xmp import AIGCLabel, RightsMetadata, build_xmp, read_xmp_bytes, write_xmp


def picture() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_tc260_label_parses_with_an_independent_xml_parser(fmt: str) -> None:
    meta = RightsMetadata(AIGCLabel(content_producer="李 Li", produce_id="inkseal:work:7", reserved_code1="c2ln"),
                          creator="李 Li", rights="© 2026 李 Li. All rights reserved.")
    data = write_xmp(picture(), fmt, build_xmp(meta))
    # Independent of our writer: find the packet in the raw bytes and read it with minidom.
    raw = data.decode("latin-1")
    packet = raw[raw.index("<x:xmpmeta"):raw.index("</x:xmpmeta>") + len("</x:xmpmeta>")].encode("latin-1").decode("utf-8")
    dom = xml.dom.minidom.parseString(packet)
    tc260 = "http://www.tc260.org.cn/ns/AIGC/1.0/"
    (node,) = dom.getElementsByTagNameNS(tc260, "AIGC")
    label = json.loads(node.firstChild.data)
    assert list(label) == ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator",
                           "PropagateID", "ReservedCode2"]
    assert label["Label"] == "1" and label["ContentProducer"] == "李 Li" and label["ProduceID"] == "inkseal:work:7"
    dst = dom.getElementsByTagNameNS("http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "DigitalSourceType")[0]
    assert dst.firstChild.data.endswith("/trainedAlgorithmicMedia")
    dm = dom.getElementsByTagNameNS("http://ns.useplus.org/ldf/xmp/1.0/", "DataMining")[0]
    assert dm.firstChild.data.endswith("DMI-PROHIBITED-AIMLTRAINING")
    assert raw.count("TC260:AIGC>") == 2  # one label (open + close tag), not two
    assert read_xmp_bytes(data) is not None


def test_explicit_label_is_tall_enough_and_in_a_corner() -> None:
    rgb = np.full((600, 900, 3), 255, np.uint8)
    out, (x0, y0, x1, y1) = add_ai_label(rgb)
    assert x0 < 900 * 0.1 and y0 < 600 * 0.1  # top-left corner
    ink = np.abs(out.astype(int) - rgb).sum(axis=2) > 0
    rows = np.nonzero(ink[y0:y1, x0:x1].any(axis=1))[0]
    assert (y1 - y0) >= 0.05 * 600
    white_text = (out[y0:y1, x0:x1].min(axis=2) > 200)
    text_rows = np.nonzero(white_text.any(axis=1))[0]
    assert len(rows) and text_rows.max() - text_rows.min() + 1 >= 0.05 * 600  # glyph height >= 5 % of short side
    with pytest.raises(ValueError):
        add_ai_label(rgb, text="Made by a human")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_c2pa_manifest_trusted_with_our_anchor_and_invalid_after_any_change(fmt: str) -> None:
    creds = make_credentials("Li")
    base = write_xmp(picture(), fmt, build_xmp(RightsMetadata(AIGCLabel(), creator="Li", rights="© Li")))
    signed = sign(base, fmt, ManifestInput(title="spring.png", software_agent="ComfyUI",
                                           soft_binding={"alg": "org.inkseal.watermark.v1", "value": "d29yazo3"},
                                           journal_checkpoint={"size": 5, "root_hash": "ab" * 32}),
                  creds.chain_pem, creds.leaf_key_pem)
    ok = validate(signed, fmt, creds.ca_cert_pem)
    assert ok["state"] == "Trusted", ok
    assert "signingCredential.untrusted" in validate(signed, fmt)["codes"]  # without our anchor
    a = ok["assertions"]
    created = a["c2pa.actions.v2"]["actions"][0] if "c2pa.actions.v2" in a else a["c2pa.actions"]["actions"][0]
    assert created["action"] == "c2pa.created" and created["digitalSourceType"].endswith("trainedAlgorithmicMedia")
    tm = a.get("cawg.training-mining") or {}
    assert all(v["use"] == "notAllowed" for v in tm["entries"].values())
    assert a["org.inkseal.journal"]["size"] == 5
    assert len(signed) - len(base) < 40_000  # no thumbnail
    # flip one byte of the picture data (not of the manifest): the hash binding breaks
    b = bytearray(signed)
    pos = len(b) - 100 if fmt == "PNG" else len(b) // 2
    b[pos] ^= 0x01
    assert validate(bytes(b), fmt, creds.ca_cert_pem)["state"] != "Trusted"
    # re-saving the pixels (what a reposter does) drops the manifest altogether
    resaved = io.BytesIO()
    Image.open(io.BytesIO(signed)).save(resaved, fmt)
    assert validate(resaved.getvalue(), fmt)["state"] == "Absent"
    assert re.search(rb"TC260", signed)


def test_carriers_are_spliced_and_refuse_broken_files_in_one_line() -> None:
    from inkseal.seal.carriers import CarrierError, png_chunks, write_carriers
    from inkseal.seal.xmp import parse_xmp, replace_aigc

    buf = io.BytesIO()
    picture().save(buf, "PNG")
    lab = AIGCLabel(content_producer="Li", produce_id="p1").as_json()
    packet = build_xmp(RightsMetadata(AIGCLabel(**{"content_producer": "Li", "produce_id": "p1"}), creator="Li",
                                      rights="r")).decode()
    out = write_carriers(buf.getvalue(), "PNG", xmp=packet.encode(), label=lab)
    kinds = [k for k, _b, _w in png_chunks(out)]
    assert kinds.index(b"tEXt") < kinds.index(b"IDAT") and kinds.count(b"iTXt") == 1
    again = write_carriers(out, "PNG", xmp=packet.encode(), label=lab)  # replaced in place, never doubled
    assert again == out
    edited = replace_aigc(packet, {**lab, "PropagateID": "x&y<z>", "ContentPropagator": "平台"})
    assert parse_xmp(edited)["aigc"]["PropagateID"] == "x&y<z>"
    assert edited.replace(edited[edited.index("<TC260:AIGC>"):edited.index("</TC260:AIGC>")], "") == \
        packet.replace(packet[packet.index("<TC260:AIGC>"):packet.index("</TC260:AIGC>")], "")  # nothing else moved
    for fmt, data in (("PNG", out[:100]), ("JPEG", b"\xff\xd8\xff\xe1\xff\xff"), ("WEBP", b"RIFF\0\0\0\0WEBPVP8 ")):
        with pytest.raises(CarrierError) as exc:
            write_carriers(data, fmt, label=lab)
        assert "\n" not in str(exc.value)
