"""Sort a received file into the tiers of Art. 6 of the CAC labelling Measures, with the evidence.

    confirmed  a valid implicit label says Label "1" (AI-generated)
    possible   no valid label saying "1", but: a valid label saying "2"; the uploader declared it
               (`declared`); a malformed implicit label; inkseal's explicit label visible; C2PA or IPTC
               digitalSourceType trainedAlgorithmicMedia; generator parameters in the metadata
    suspected  only detector signals: Stable Diffusion's own invisible marks (likely / very likely),
               inkseal's keyed watermark (`--watermark`, where this install holds the keys), or a
               valid label saying "3"
    none       nothing of the above

Every signal names its carrier and field; nothing is claimed beyond what was read. Cheaper checks run
first and a lower tier's detectors run only when no higher tier applies (a platform checks millions
of files): the report lists what was not run, and why.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from PIL import Image

from inkseal.errors import BadImage
from inkseal.imaging import load_image
from inkseal.journal.importers import import_metadata
from inkseal.journal.metadata import read_metadata
from inkseal.platform.labels import LABEL_VALUES, LABEL_VALUES_ZH, read_and_check
from inkseal.seal.xmp import TRAINED_ALGORITHMIC_MEDIA, parse_xmp

AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
TIER_NAMES = {"confirmed": "已确认为生成合成内容", "possible": "可能为生成合成内容", "suspected": "疑似生成合成内容",
              "none": "未发现生成合成标识"}


@dataclass
class CheckOptions:
    keys: list[Ed25519PublicKey] = field(default_factory=list)  # inkseal public keys that may have signed labels
    declared: bool = False  # the uploader declared the file AI-generated (Art. 6(2))
    detectors: bool = True  # run the pixel detectors (explicit label, SD marks) when no higher tier applies
    max_pixels: int = 64_000_000
    max_bytes: int = 64 * 1024 * 1024
    # inkseal's keyed watermark (`platform.ourmark.detector`): only an install holding the creators' keys has one
    watermark: Callable[[np.ndarray], dict[str, Any]] | None = None


def signal(kind: str, where: str, en: str, zh: str) -> dict[str, str]:
    return {"signal": kind, "where": where, "en": en, "zh": zh}


def check_bytes(data: bytes, opts: CheckOptions) -> dict[str, Any]:
    """The file's tier, the reason, every signal with its carrier and field, and the label findings.

    Raises BadImage (one line) for a file that is not a picture that can be read safely."""
    if len(data) > opts.max_bytes:
        raise BadImage(f"file too large: {len(data):,} bytes exceeds the {opts.max_bytes:,} limit")
    image = _decode(data, opts.max_pixels)
    meta = read_metadata(data)
    labels = read_and_check(meta, image.rgb.tobytes(), opts.keys)
    report: dict[str, Any] = {"format": image.format, "width": image.width, "height": image.height,
                              "sha256": hashlib.sha256(data).hexdigest(), "labels": labels.carriers,
                              "findings": labels.findings, "metadata_problems": list(meta.problems)}
    confirmed, possible, suspected = [], [], []
    for c in labels.valid:
        value, lab = c["label"]["Label"], c["label"]
        s = signal("implicit_label", f"{c['carrier']} Label",
                   f'valid implicit label in {c["carrier"]}: Label "{value}" ({LABEL_VALUES[value]}), '
                   f'ContentProducer "{lab["ContentProducer"]}", ProduceID "{lab["ProduceID"]}"',
                   f'{c["carrier"]} 中有有效隐式标识：Label "{value}"（{LABEL_VALUES_ZH[value]}），'
                   f'ContentProducer "{lab["ContentProducer"]}"，ProduceID "{lab["ProduceID"]}"')
        {"1": confirmed, "2": possible, "3": suspected}[value].append(s)
    for c in labels.carriers:
        if not c["valid"]:
            possible.append(signal("malformed_label", c["carrier"],
                                   f"an implicit label is present in {c['carrier']} but malformed (see findings)",
                                   f"{c['carrier']} 中有隐式标识但格式错误（见问题列表）"))
    if opts.declared:
        possible.append(signal("declared", "upload declaration", "the uploader declared the file AI-generated",
                               "上传者声明该内容为生成合成内容"))
    possible += _metadata_signals(meta, data, image.format)
    skipped: dict[str, str] = {}
    if confirmed or not opts.detectors:
        why = "a valid implicit label already confirms it" if confirmed else "detectors turned off (--no-detectors)"
        skipped = {"explicit_label": why, "stable_diffusion_marks": why, "inkseal_watermark": why}
    else:
        from inkseal.platform.visible import MIN_SIDE, find_inkseal_label

        corner = find_inkseal_label(image.rgb)
        if min(image.width, image.height) < MIN_SIDE:
            skipped["explicit_label"] = f"not checked: picture under {MIN_SIDE} px on its shorter side"
        if corner:
            possible.append(signal("explicit_label", f"pixels, {corner} corner",
                                   f'inkseal\'s explicit label "AI生成" is visible in the {corner} corner',
                                   f"图片{corner}角可见 inkseal 的显式标识「AI生成」"))
        if not possible:
            marks, not_run = _sd_mark_signals(image.rgb)
            suspected += marks
            if not_run:
                skipped["stable_diffusion_marks"] = not_run
            if opts.watermark is not None:
                suspected += _our_mark_signal(opts.watermark(image.rgb))
        else:
            skipped["stable_diffusion_marks"] = skipped["inkseal_watermark"] = "a higher tier already applies"
    skipped["other_explicit_labels"] = ("not checked: no OCR here; only inkseal's own label layout is recognised")
    if opts.watermark is None:
        skipped.setdefault("inkseal_watermark", "not checked: it needs the creators' watermark keys (`check "
                                                "--watermark` on an install that holds them, or `inkseal inspect`)")
    tier = "confirmed" if confirmed else "possible" if possible else "suspected" if suspected else "none"
    evidence = confirmed + possible + suspected
    report.update(tier=tier, tier_zh=TIER_NAMES[tier], evidence=evidence, not_checked=skipped,
                  reason=_reason(tier, {"confirmed": confirmed, "possible": possible, "suspected": suspected}))
    return report


@dataclass
class _Pixels:
    rgb: np.ndarray
    format: str
    width: int
    height: int


def _decode(data: bytes, max_pixels: int) -> Any:
    """The shared loader, except that a picture under 3 px a side (refused there: too small to match)
    still counts here: a 1x1 file can carry a label, and tools' metadata-only exports often are one."""
    try:
        return load_image(data, max_pixels=max_pixels)
    except BadImage:
        tiny = _tiny_picture(data)
        if tiny is None:
            raise
        return tiny


def _tiny_picture(data: bytes) -> _Pixels | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            if min(im.size) >= 3 or im.width * im.height > 4096:
                return None
            im.load()
            return _Pixels(np.asarray(im.convert("RGB")), im.format or "unknown", im.width, im.height)
    except Exception:  # noqa: BLE001 - not decodable by Pillow either: the loader's one-line reason stands
        return None


def _tier_of(label_value: str) -> str:
    return {"1": "confirmed", "2": "possible", "3": "suspected"}[label_value]


def _reason(tier: str, by_tier: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    if tier == "none":
        return {"en": "no implicit label, no declaration, no AI metadata and no detector signal was found",
                "zh": "未发现隐式标识、用户声明、AI 元数据或检测信号"}
    sig = by_tier[tier]
    return {"en": f"{tier}: " + "; ".join(s["en"] for s in sig),
            "zh": f"{TIER_NAMES[tier]}：" + "；".join(s["zh"] for s in sig)}


def _metadata_signals(meta: Any, data: bytes, fmt: str) -> list[dict[str, str]]:
    out = []
    xmp = parse_xmp(meta.xmp) if meta.xmp else {}
    if xmp.get("digital_source_type") == TRAINED_ALGORITHMIC_MEDIA:
        out.append(signal("iptc_source_type", "XMP Iptc4xmpExt:DigitalSourceType",
                          "XMP Iptc4xmpExt:DigitalSourceType is trainedAlgorithmicMedia",
                          "XMP Iptc4xmpExt:DigitalSourceType 为 trainedAlgorithmicMedia"))
    if meta.has_c2pa and fmt in ("PNG", "JPEG", "WEBP"):
        from inkseal.seal.c2pa_sign import validate

        try:
            c2pa = validate(data, fmt)
        except Exception as exc:  # noqa: BLE001 - the C2PA library on hostile bytes: the check goes on
            c2pa = {"state": "Invalid", "error": type(exc).__name__}
        for label, body in (c2pa.get("assertions") or {}).items():
            if not str(label).startswith("c2pa.actions"):
                continue
            for action in (body or {}).get("actions") or []:
                source = str((action or {}).get("digitalSourceType") or "")
                if source.rsplit("/", 1)[-1] in AI_SOURCE_TYPES:
                    where = f"C2PA {label} {action.get('action')} digitalSourceType"
                    state = c2pa["state"]
                    out.append(signal("c2pa_source_type", where,
                                      f"{where} is {source.rsplit('/', 1)[-1]} (manifest {state}; signer not checked "
                                      "against a trust list)",
                                      f"{where} 为 {source.rsplit('/', 1)[-1]}（凭证状态 {state}；未按信任列表核验签名者）"))
                    break
    gens, _problems = import_metadata(meta)
    for g in gens:
        if g.source_key in ("c2pa", "aigc-label"):
            continue  # C2PA and labels are reported above, from the file itself
        out.append(signal("generator_metadata", g.where, f"generator parameters from {g.tool} in {g.where}",
                          f"{g.where} 中有 {g.tool} 的生成参数"))
    return out


def _our_mark_signal(det: dict[str, Any]) -> list[dict[str, str]]:
    if not det.get("detected"):
        return []
    fpp = det["false_positive_probability"]
    if det["mode"] == "blind v2":
        where = f"pixels, inkseal blind mark (work {det['work_id']})"
        return [signal("inkseal_watermark", where,
                       f"inkseal's blind mark names work {det['work_id']}: {det['agreement']}, false-positive "
                       f"probability {fpp:.1e} over every message and key checked (a detector signal only)",
                       f"检测到 inkseal 盲水印，指向作品 {det['work_id']}：64 位消息的 {det.get('mac_bits', 36)} 位 MAC 成立，误报概率 "
                       f"{fpp:.1e}（已计入所有检查的消息与密钥；仅为检测信号）")]
    where = f"pixels, inkseal watermark ({det['mode']}, key of work {det['work_id']})"
    return [signal("inkseal_watermark", where,
                   f"inkseal's watermark for work {det['work_id']}: {det['agreement']} bits, false-positive "
                   f"probability {fpp:.1e} over every key tried (a detector signal only)",
                   f"检测到 inkseal 水印（作品 {det['work_id']}）：{det['agreement']} 位，误报概率 {fpp:.1e}"
                   "（已计入所有尝试的密钥；仅为检测信号）")]


def _sd_mark_signals(rgb: Any) -> tuple[list[dict[str, str]], str | None]:
    """The marks read as likely or very likely, and why the check did not run (None when it did)."""
    from inkseal.seal.sdmarks import check

    marks = check(rgb)
    if not marks.get("checked"):
        return [], f"not checked: {marks.get('reason')}"
    out = []
    for name, result in marks.items():
        if isinstance(result, dict) and result.get("verdict") in ("likely", "very likely"):
            where = "pixels, invisible-watermark dwtDct"
            out.append(signal("stable_diffusion_mark", where,
                              f"Stable Diffusion's own {name} invisible mark: {result['matching_bits']} bits match, "
                              f"{result['verdict']} (a detector signal only)",
                              f"检测到 Stable Diffusion {name} 隐形水印：{result['matching_bits']} 位吻合，"
                              f"{result['verdict']}（仅为检测信号）"))
    return out, None
