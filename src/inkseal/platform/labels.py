"""Read the GB 45438 implicit label from every carrier of a file and check it.

Carriers are found by the journal's reader (`implicit_labels`: XMP TC260:AIGC, EXIF UserComment, PNG
text `AIGC`). On top of that this module checks what a platform must: the seven keys and nothing else,
the Label value, the field syntax, one label per file (carriers that disagree are a finding), and
ReservedCode1 where it is inkseal's own Ed25519 signature. Another producer's ReservedCode1 (an SM2/SM3
code, a hash) is reported as present, never as verified: we hold neither its algorithm nor its key.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from inkseal.journal.importers.labels import implicit_labels
from inkseal.journal.metadata import RawMetadata
from inkseal.seal.service import content_binding
from inkseal.seal.xmp import AIGC_KEYS, parse_xmp

LABEL_VALUES = {"1": "AI-generated", "2": "possibly AI-generated", "3": "suspected AI-generated"}
LABEL_VALUES_ZH = {"1": "人工智能生成", "2": "可能为人工智能生成", "3": "疑似人工智能生成"}
OURS = "inkseal:work:"
# Sanity limits of ours, not the standard's (GB 45438 sets no lengths): a producer name or an ID longer
# than this is not one, and an integrity code (a signature, a hash, a certificate reference) fits 4 KiB.
MAX_FIELD = {"ReservedCode1": 4096, "ReservedCode2": 4096}
MAX_OTHER = 1024

FINDINGS = {
    "unreadable": ("{carrier}: implicit label unreadable: {why}", "{carrier}：隐式标识无法读取：{why}"),
    "missing_keys": ("{carrier}: implicit label lacks {keys}", "{carrier}：隐式标识缺少 {keys}"),
    "unknown_keys": ("{carrier}: implicit label has keys outside GB 45438: {keys}",
                     "{carrier}：隐式标识含有 GB 45438 之外的键：{keys}"),
    "bad_label": ('{carrier}: Label is {value}, not "1", "2" or "3"', '{carrier}：Label 为 {value}，不是 "1"、"2" 或 "3"'),
    "not_text": ("{carrier}: {key} is not a string", "{carrier}：{key} 不是字符串"),
    "too_long": ("{carrier}: {key} is {n:,} characters (over {limit:,})", "{carrier}：{key} 长 {n:,} 个字符（超过 {limit:,}）"),
    "control": ("{carrier}: {key} contains control characters", "{carrier}：{key} 含有控制字符"),
    "empty": ("{carrier}: {key} is empty (GB 45438 asks the producer to name itself and the content)",
              "{carrier}：{key} 为空（GB 45438 要求写明生成服务提供者及内容编号）"),
    "propagate_half": ("{carrier}: PropagateID without ContentPropagator, or the reverse",
                       "{carrier}：PropagateID 与 ContentPropagator 只填了其一"),
    "conflict": ("implicit labels disagree ({a} vs {b}) on {keys}: a file carries one label",
                 "隐式标识不一致（{a} 与 {b}）：{keys}；一个文件只应有一个标识"),
    "signature_bad": ("{carrier}: ReservedCode1 (inkseal signature) does not verify with {n} known key(s): "
                      "pixels changed, re-encoded, or signed by a key not given",
                      "{carrier}：ReservedCode1（inkseal 签名）无法用已知的 {n} 个公钥验证：像素被改动、重新编码，或签名公钥未提供"),
    "signature_malformed": ("{carrier}: ReservedCode1 claims an inkseal signature but is not one (bad base64 or length)",
                            "{carrier}：ReservedCode1 声称为 inkseal 签名，但格式不对（base64 或长度错误）"),
    "signature_no_key": ("{carrier}: ReservedCode1 is an inkseal signature, not verified: no public key given "
                         "(--public-key)", "{carrier}：ReservedCode1 为 inkseal 签名，未验证：未提供公钥（--public-key）"),
    "code_unverified": ("{carrier}: ReservedCode1 present ({n} characters), the producer's own code: present, "
                        "not verified", "{carrier}：ReservedCode1 存在（{n} 个字符），为生成方自有校验码：仅确认存在，未验证"),
}


def finding(code: str, **kw: Any) -> dict[str, str]:
    en, zh = FINDINGS[code]
    return {"code": code, "en": en.format(**kw), "zh": zh.format(**kw)}


@dataclass
class LabelCheck:
    """Every carrier's label, the valid ones, and what is wrong with the rest."""

    carriers: list[dict[str, Any]] = field(default_factory=list)  # {"carrier", "label"?, "valid", "signature"?}
    findings: list[dict[str, str]] = field(default_factory=list)

    @property
    def valid(self) -> list[dict[str, Any]]:
        return [c for c in self.carriers if c["valid"]]


def field_problems(carrier: str, label: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    missing = [k for k in AIGC_KEYS if k not in label]
    unknown = sorted(k for k in label if k not in AIGC_KEYS)
    if missing:
        out.append(finding("missing_keys", carrier=carrier, keys=", ".join(missing)))
    if unknown:
        out.append(finding("unknown_keys", carrier=carrier, keys=", ".join(k[:40] for k in unknown[:5])))
    for key in AIGC_KEYS:
        value = label.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            out.append(finding("not_text", carrier=carrier, key=key))
            continue
        limit = MAX_FIELD.get(key, MAX_OTHER)
        if len(value) > limit:
            out.append(finding("too_long", carrier=carrier, key=key, n=len(value), limit=limit))
        elif any(unicodedata.category(ch) == "Cc" for ch in value):
            out.append(finding("control", carrier=carrier, key=key))
    if "Label" in label and (not isinstance(label["Label"], str) or label["Label"] not in LABEL_VALUES):
        out.append(finding("bad_label", carrier=carrier, value=repr(label["Label"])[:40]))
    for key in ("ContentProducer", "ProduceID"):
        if label.get(key) == "":
            out.append(finding("empty", carrier=carrier, key=key))
    if bool(label.get("ContentPropagator")) != bool(label.get("PropagateID")):
        out.append(finding("propagate_half", carrier=carrier))
    return out


def check_signature(carrier: str, label: dict[str, Any], pixels: bytes | None,
                    keys: list[Ed25519PublicKey]) -> tuple[str, dict[str, str] | None]:
    """("verified" | "not verified" | "invalid" | "absent" | "present, not verified", finding or None)."""
    code, produce = label.get("ReservedCode1"), str(label.get("ProduceID", ""))
    if not isinstance(code, str) or not code:
        return "absent", None
    if not produce.startswith(OURS):
        return "present, not verified", finding("code_unverified", carrier=carrier, n=len(code))
    try:
        sig = base64.b64decode(code, validate=True)
    except (binascii.Error, ValueError):
        sig = b""
    if len(sig) != 64:
        return "invalid", finding("signature_malformed", carrier=carrier)
    if not keys or pixels is None:
        return "not verified", finding("signature_no_key", carrier=carrier)
    message = content_binding(pixels, produce)
    for key in keys:
        try:
            key.verify(sig, message)
            return "verified", None
        except InvalidSignature:
            continue
    return "invalid", finding("signature_bad", carrier=carrier, n=len(keys))


def read_and_check(meta: RawMetadata, pixels: bytes | None, keys: list[Ed25519PublicKey]) -> LabelCheck:
    """`pixels`: the decoded RGB bytes (what inkseal signs); None when the image could not be decoded."""
    result = LabelCheck()
    found = label_carriers(meta)
    raw: list[tuple[str, dict[str, Any]]] = []
    for item in found:
        carrier = item["carrier"]
        if "label" not in item:
            result.findings.append(finding("unreadable", carrier=carrier, why=str(item.get("error", ""))[:200]))
            result.carriers.append({"carrier": carrier, "valid": False, "error": item.get("error")})
            continue
        label = item["label"]
        problems = field_problems(carrier, label)
        raw.append((carrier, label))
        entry: dict[str, Any] = {"carrier": carrier, "label": _shown(label), "valid": not problems}
        if not problems:
            entry["signature"], why = check_signature(carrier, label, pixels, keys)
            if why:
                result.findings.append(why)
        result.findings += problems
        result.carriers.append(entry)
    for i, (a, la) in enumerate(raw):
        for b, lb in raw[i + 1:]:
            differ = [k for k in AIGC_KEYS if la.get(k) != lb.get(k)]
            if differ:
                result.findings.append(finding("conflict", a=a, b=b, keys=", ".join(differ)))
    return result


def label_carriers(meta: RawMetadata) -> list[dict[str, Any]]:
    """`implicit_labels`, plus two cases it passes over: the TC260 namespace bound to another prefix
    than `TC260` (it looks for that text), and a UserComment that names AIGC but is not a whole label."""
    found = implicit_labels(meta)
    if meta.xmp and not any(x["carrier"].startswith("XMP") for x in found):
        parsed = parse_xmp(meta.xmp)
        if isinstance(parsed.get("aigc"), dict):
            found.insert(0, {"carrier": "XMP TC260:AIGC", "label": parsed["aigc"]})
        elif parsed.get("aigc_error"):
            found.insert(0, {"carrier": "XMP TC260:AIGC", "error": str(parsed["aigc_error"])})
    if not any("EXIF UserComment" in x["carrier"] for x in found):
        stray = _stray_user_comment(meta)
        if stray:
            found.append(stray)
    return found


def _shown(label: dict[str, Any]) -> dict[str, Any]:
    """The label as reported: long values cut, so a hostile 60 KB field does not flood the output."""
    return {str(k)[:64]: (v[:200] + "…" if isinstance(v, str) and len(v) > 200 else v) for k, v in list(label.items())[:16]}


def _stray_user_comment(meta: RawMetadata) -> dict[str, Any] | None:
    """An EXIF UserComment that names AIGC but is not a label the reader accepts (bad JSON, wrong keys)."""
    text = meta.texts.get("parameters", "")
    if "EXIF UserComment" not in meta.where.get("parameters", "") or (
            "AIGC" not in text[:256] and '"Label"' not in text[:256]):
        return None
    if not text.lstrip().startswith("{"):
        return None  # A1111 infotext that merely mentions the word
    return {"carrier": "EXIF UserComment", "error": "UserComment names AIGC but is not a GB 45438 label "
                                                    "(JSON with Label and ContentProducer / ProduceID)"}
