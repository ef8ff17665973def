"""`inkseal inspect`: what a file carries, what it lacks, and what was stripped.

Reads, independently of one another: the GB 45438 implicit label (XMP TC260:AIGC, with our
ReservedCode1 signature checked when the ProduceID is ours), IPTC / PLUS / Dublin Core rights, the
C2PA manifest and its validation against our trust anchor plus any the user adds, generator
parameters (through the journal importers), and our keyed watermark. When the file matches a
registered work, the matcher's alignment drives informed watermark detection and localisation, and
the findings say what a copy lost: the manifest, the implicit label, the signature corner.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inkseal.errors import BadImage
from inkseal.imaging import load_image, read_limited
from inkseal.journal.importers import import_metadata
from inkseal.journal.importers.labels import implicit_labels
from inkseal.journal.keys import verify_signature
from inkseal.journal.metadata import read_metadata
from inkseal.seal import blindmark, watermark
from inkseal.seal.marks import carries_blind_mark
from inkseal.seal.c2pa_sign import validate
from inkseal.seal.service import content_binding
from inkseal.seal.xmp import AIGC_KEYS, TRAINED_ALGORITHMIC_MEDIA, parse_xmp

if TYPE_CHECKING:
    from inkseal.services import InspectContext

FINDINGS = {
    "watermark_locked": ("watermark not checked: the watermark key is encrypted; give the passphrase "
                         "(INKSEAL_PASSPHRASE or --passphrase-file)",
                         "未检查水印：水印密钥已加密，请提供口令（INKSEAL_PASSPHRASE 或 --passphrase-file）"),
    "label_missing": ("no GB 45438 implicit label (XMP TC260:AIGC)", "缺少 GB 45438 隐式标识（XMP TC260:AIGC）"),
    "label_removed": ("implicit label removed: the sealed work carried one", "隐式标识已被删除：原封存作品带有该标识"),
    "label_invalid": ("implicit label malformed: {why}", "隐式标识格式错误：{why}"),
    "xmp_invalid": ("XMP metadata unreadable: {why}", "XMP 元数据无法读取：{why}"),
    "label_signature_bad": ("implicit label signature does not match the pixels (altered or re-encoded)",
                            "隐式标识签名与像素不符（已被修改或重新编码）"),
    "c2pa_missing_but_watermark": ("watermark says work {work} but the C2PA manifest is missing",
                                   "水印显示为作品 {work}，但 C2PA 凭证缺失"),
    "c2pa_invalid": ("C2PA manifest present but {state}: {codes}", "C2PA 凭证存在但{state}：{codes}"),
    "signature_cut": ("signature region cut ({pct:.0f}% gone)", "署名区域被裁掉（缺失 {pct:.0f}%）"),
    "signature_altered": ("signature region present but altered", "署名区域仍在但已被改动"),
    "ai_label_cut": ("explicit AI label cut or covered", "显式 AI 标识被裁掉或遮盖"),
}


def finding(key: str, lang: str, **kw: Any) -> dict[str, str]:
    en, zh = FINDINGS[key]
    return {"code": key, "message": (zh if lang == "zh" else en).format(**kw)}


def inspect_path(app: InspectContext, path: Path, *, lang: str = "en", extra_anchors: bytes | None = None) -> dict[str, Any]:
    """`inspect_bytes` on a file, refusing one larger than `settings.max_bytes` before reading it."""
    return inspect_bytes(app, read_limited(path, app.settings.max_bytes), lang=lang, extra_anchors=extra_anchors)


def inspect_bytes(app: InspectContext, data: bytes, *, lang: str = "en", extra_anchors: bytes | None = None) -> dict[str, Any]:
    if len(data) > app.settings.max_bytes:
        raise BadImage(f"file too large: {len(data):,} bytes exceeds the {app.settings.max_bytes:,} limit")
    image = load_image(data, max_pixels=app.settings.max_pixels)
    meta = read_metadata(data)
    report: dict[str, Any] = {"format": image.format, "width": image.width, "height": image.height,
                              "sha256": hashlib.sha256(data).hexdigest(), "findings": []}
    findings = report["findings"]

    # -- implicit label and rights ------------------------------------------------------------
    xmp = parse_xmp(meta.xmp) if meta.xmp else {}
    report["xmp"] = {k: v for k, v in xmp.items() if k != "aigc_raw"}
    aigc = xmp.get("aigc") if isinstance(xmp.get("aigc"), dict) else None
    carrier = "XMP TC260:AIGC" if aigc is not None else None
    if aigc is None:  # GB 45438 also allows the label in EXIF UserComment or a PNG text chunk
        other = next((x for x in implicit_labels(meta) if "label" in x), None)
        if other is not None:
            aigc, carrier = other["label"], other["carrier"]
    label: dict[str, Any] = {"present": aigc is not None}
    if carrier:
        label["carrier"] = carrier
    if aigc is not None:
        missing = [k for k in AIGC_KEYS if k not in aigc]
        if missing or str(aigc.get("Label")) not in ("1", "2", "3"):
            findings.append(finding("label_invalid", lang, why=f"missing {missing}" if missing else "Label not 1/2/3"))
        label.update(aigc)
        produce = str(aigc.get("ProduceID", ""))
        if produce.startswith("inkseal:work:") and aigc.get("ReservedCode1") and app.keys.public_path.exists():
            try:
                sig = base64.b64decode(str(aigc["ReservedCode1"]), validate=True)
                label["signature_valid"] = verify_signature(app.keys.public(), sig,
                                                            content_binding(image.rgb.tobytes(), produce))
            except ValueError:
                label["signature_valid"] = False
            if not label["signature_valid"]:
                findings.append(finding("label_signature_bad", lang))
    elif xmp.get("aigc_error"):
        findings.append(finding("label_invalid", lang, why=xmp["aigc_error"]))
    if xmp.get("xmp_error"):
        findings.append(finding("xmp_invalid", lang, why=xmp["xmp_error"]))
    report["implicit_label"] = label
    report["ai_generated_per_iptc"] = xmp.get("digital_source_type") == TRAINED_ALGORITHMIC_MEDIA

    # -- C2PA ------------------------------------------------------------------------------------
    anchors = b"".join(a for a in (app.keys.trust_anchor(), extra_anchors) if a)
    c2pa = validate(data, image.format, anchors or None) if image.format in ("PNG", "JPEG", "WEBP") else {"state": "Absent"}
    report["c2pa"] = {"state": c2pa["state"], "codes": c2pa.get("codes", []),
                      "assertions": sorted((c2pa.get("assertions") or {}).keys()),
                      "claim_generator": ((c2pa.get("manifest") or {}).get("claim_generator_info") or [{}])[0].get("name"),
                      # the whole active manifest and its signer, for readers who want more than the summary
                      "manifest": c2pa.get("manifest") or None,
                      "signer": (c2pa.get("manifest") or {}).get("signature_info")}
    if c2pa["state"] not in ("Absent", "Trusted", "Valid"):
        findings.append(finding("c2pa_invalid", lang, state=c2pa["state"], codes=", ".join(c2pa.get("codes", [])[:3])))

    # -- generator parameters -----------------------------------------------------------------------
    gens, problems = import_metadata(meta)
    # everything each importer read (prompts, negatives, every parameter and pass, LoRAs, labels); the
    # tool's whole graph stays in the journal entry (`journal show --json`), here only whether there is one
    report["generator"] = [{**{k: v for k, v in g.as_dict().items() if k not in ("workflow", "terms", "negative_terms")},
                            "has_workflow": g.workflow is not None}
                           for g in gens if g.source_key != "c2pa"]
    report["metadata_problems"] = problems
    for g in gens:  # which service signed, what it says it did, from what (ChatGPT, Gemini, Firefly ...)
        if g.source_key == "c2pa":
            info = g.extra.get("c2pa") or {}
            report["c2pa"]["service"] = g.tool
            report["c2pa"].update({k: info.get(k) for k in ("generator_version", "actions", "digital_source_type",
                                                             "software_agents", "ingredients")})

    # -- Stable Diffusion's own marks ----------------------------------------------------------------
    from inkseal.seal.sdmarks import check as check_sd_marks

    report["stable_diffusion_marks"] = check_sd_marks(image.rgb)

    # -- our watermark, and what a copy of a registered work lost --------------------------------------
    report["watermark"] = None
    sealed_files = {w.id: f for w in app.works() for f in w.files if (f.regions or {}).get("watermark")}
    sealed_ids = list(sealed_files)
    if sealed_ids and app.keys.watermark_locked():
        findings.append(finding("watermark_locked", lang))
    elif app.keys.watermark_path.exists() and sealed_ids:
        # Blind v2 first: one read names any work under this install's blind key (seal/blindmark.py).
        # Works sealed before it carry only the per-work wm/1 mark: each such work's key is tried on the
        # sealed frame (a copy with its shape is resized back) and the best pays for the others (Bonferroni).
        blind, ident = blindmark.find(image.rgb, {"install": app.keys.blind_key()}, thorough=True)
        report["blind_mark"] = {**blind.as_dict(), "work_id": ident.work_id if ident else None,
                                "false_positive_probability": ident.false_positive_probability if ident else None,
                                "detected": ident is not None}
        legacy = [w for w in sealed_ids if not carries_blind_mark(sealed_files[w].regions)]

        def frame(f: Any) -> tuple[int, int] | None:
            same_shape = f.width and f.height and abs(image.width / image.height - f.width / f.height) < 0.02
            return (f.height, f.width) if same_shape else None

        if ident is not None:
            det = watermark.Detection("blind v2", np.zeros(watermark.BITS, np.int8), watermark.BITS,
                                      ident.false_positive_probability, ident.work_id)
        elif legacy:
            tries = [watermark.detect_blind(image.rgb, app.keys.watermark_key_for(w), [w],
                                            frame=frame(sealed_files[w])) for w in legacy]
            det = min(tries, key=lambda d: d.false_positive_probability)
            det.false_positive_probability = min(1.0, det.false_positive_probability * len(tries))
        else:
            det = watermark.Detection("blind v2", np.zeros(watermark.BITS, np.int8), 0, 1.0, None, 0.0)
        best = det
        match = next(iter(app.matcher.match(image)), None)
        if match is not None and match.affine is not None:
            sealed = next((f for f in app.work(match.work_id).files if (f.regions or {}).get("watermark")), None)
            if sealed is not None:
                wm = sealed.regions["watermark"]
                ref = load_image(app.registry.objects.get(wm["reference_sha256"])).rgb
                # the matched file may be the original: both share the sealed file's pixel grid
                informed = watermark.detect_informed(image.rgb, ref, match.affine,
                                                     app.keys.watermark_key_for(match.work_id), [match.work_id])
                if not informed.detected and carries_blind_mark(sealed.regions):  # the blind layer, read with the original too
                    again = blindmark.read_informed(image.rgb, ref, match.affine)
                    named = blindmark.identify_read(again, {"install": app.keys.blind_key()})
                    if named is not None and named.work_id == match.work_id:
                        informed = watermark.Detection("informed v2", np.zeros(watermark.BITS, np.int8),
                                                       watermark.BITS, named.false_positive_probability, named.work_id)
                best = informed if informed.false_positive_probability < det.false_positive_probability else det
            loc = match.localisation.as_dict() if match.localisation else {}
            report["match"] = {"work_id": match.work_id, "score": round(match.score, 2), "localisation": loc}
            sig = (loc.get("regions") or {}).get("signature")
            if sig and sig["status"] == "cut":
                findings.append(finding("signature_cut", lang, pct=100 * (1 - sig["present"])))
            elif sig and sig["status"] == "altered":
                findings.append(finding("signature_altered", lang))
            ail = (loc.get("regions") or {}).get("ai_label")
            if ail and ail["status"] != "intact":
                findings.append(finding("ai_label_cut", lang))
            if sealed is not None and aigc is None:
                findings.append(finding("label_removed", lang))
        report["watermark"] = best.as_dict()
        if best.mode in ("blind v2", "informed v2"):  # its evidence is the MAC of one 64-bit message, not bits
            report["watermark"]["agreement"] = "MAC holds" if best.detected else "-"
            report["watermark"]["region"] = blind.region
        if best.detected and c2pa["state"] == "Absent":
            findings.append(finding("c2pa_missing_but_watermark", lang, work=best.work_id))
    if aigc is None and not any(f["code"] == "label_removed" for f in findings):
        findings.append(finding("label_missing", lang))
    return report
