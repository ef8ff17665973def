"""`inkseal evidence MATCH -o PACK`: everything a platform, lawyer or court needs, checkable offline.

The facts mirror what the court had to find in Li v. Liu (../shared/CASE.md); each names its files and
the checks `evidence verify` re-runs. A fact without evidence is marked missing, never invented.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from inkseal import __version__
from inkseal.evidence.capture import CAPTURE_FILES, collect_capture
from inkseal.evidence.damages import DamagesInput, estimate
from inkseal.evidence.drafts import render_drafts, render_report
from inkseal.errors import InksealError
from inkseal.imaging import load_image
from inkseal.journal.keys import key_id
from inkseal.seal import watermark
from inkseal.seal.c2pa_sign import validate

if TYPE_CHECKING:
    from inkseal.app import Inkseal

SCHEMA = "inkseal-evidence/1"
EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "TIFF": "tif", "BMP": "bmp"}


def _host(url: str | None) -> str | None:
    return urlparse(url).hostname if url and "://" in url else None


def _write(path: Path, data: bytes | str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


MANIFEST_FILES = ("MANIFEST.sha256", "MANIFEST.sig", "MANIFEST.tsr")  # the only files the manifest cannot list


class TargetRefused(InksealError):
    """The output path holds something inkseal did not make: it is never deleted."""


def manifest_lines(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() not in MANIFEST_FILES)
    return "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n" for p in files)


_LOCAL_PATH = re.compile(r"^(/|~|[A-Za-z]:[\\/]|\\\\)")


def public_text(value: Any) -> Any:
    """A suspect's source or location as it may leave this machine: an absolute local path (also inside a
    dict or list) becomes its file name, so that a pack never shows where the creator keeps their files."""
    if isinstance(value, dict):
        return {k: public_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public_text(v) for v in value]
    if isinstance(value, str) and _LOCAL_PATH.match(value):
        return "local file " + re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    return value


def _is_previous_pack(target: Path) -> bool:
    """True only for an inkseal pack (folder or zip) holding nothing but what its own MANIFEST lists:
    then replacing it deletes nothing the user made."""
    from inkseal.evidence.zipread import ZipPack

    try:
        if target.is_dir():
            names = {p.relative_to(target).as_posix() for p in target.rglob("*") if not p.is_dir() or p.is_symlink()}
            ev = json.loads((target / "evidence.json").read_bytes())
            manifest = (target / "MANIFEST.sha256").read_bytes()
        else:
            with ZipPack(target) as z:
                names = set(z.files)
                ev, manifest = json.loads(z.read("evidence.json")), z.read("MANIFEST.sha256")
        listed = {line.partition("  ")[2] for line in manifest.decode().splitlines()}
    except Exception:  # noqa: BLE001 - anything unreadable is not (provably) our pack
        return False
    return str(ev.get("schema_version", "")).startswith("inkseal-evidence/") and names <= listed | set(MANIFEST_FILES)


def _check_target(target: Path, *, force: bool) -> None:
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink():
        raise TargetRefused(f"{target} is a symbolic link: choose another output path")
    empty = (target.is_dir() and not any(target.iterdir())) or (target.is_file() and target.stat().st_size == 0)
    if empty:
        return
    if not force:
        raise TargetRefused(f"{target} already exists and is not empty: choose another path, or use --force "
                            "to replace a previous evidence pack / 已存在且非空：请换一个路径，或用 --force 替换旧的证据包")
    if not _is_previous_pack(target):
        raise TargetRefused(f"{target} is not a previous inkseal evidence pack (or holds other files): "
                            "--force replaces only a pack, never other files / 不是旧的 inkseal 证据包（或含其他文件），"
                            "--force 只替换证据包")


def _place(built: Path, target: Path, work: Path) -> None:
    """Move the finished pack into place; what was there (an empty folder or a previous pack) goes last."""
    if target.exists():
        old = work / "previous"
        os.replace(target, old)
    os.replace(built, target)


def build_pack(app: Inkseal, match_id: int, out: Path, *, passphrase: str, lang: str = "zh",
               damages: DamagesInput | None = None, as_zip: bool = False, tsa_url: str | None = None,
               force: bool = False) -> Path:
    """Build the pack in a fresh temporary folder next to the target and move it into place when complete:
    a failure leaves the target as it was, and nothing the user made is ever deleted (see _check_target)."""
    target = (out if out.suffix == ".zip" else out.with_suffix(".zip")) if as_zip else out
    target = target.absolute()
    _check_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.inkseal-", dir=target.parent))
    try:
        root = work_dir / "pack"
        root.mkdir()
        _build(app, match_id, root, passphrase=passphrase, lang=lang, damages=damages, tsa_url=tsa_url)
        if as_zip:
            built = work_dir / "pack.zip"
            with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(root.rglob("*")):
                    if p.is_file():
                        z.write(p, p.relative_to(root).as_posix())
        else:
            built = root
        _check_target(target, force=force)  # again: something may have appeared while we were building
        _place(built, target, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return target


def _build(app: Inkseal, match_id: int, root: Path, *, passphrase: str, lang: str,
           damages: DamagesInput | None, tsa_url: str | None) -> None:
    from inkseal.seal.inspect import inspect_bytes

    m = app.registry.match(match_id)
    work = app.registry.work(m.work_id)
    rel = lambda p: Path(p).relative_to(root).as_posix()  # noqa: E731
    files: dict[str, str] = {}

    # -- the work -------------------------------------------------------------------------------
    original = next((f for f in work.files if f.role == "original"), work.files[0])
    files["original"] = rel(_write(root / "work" / f"original.{EXT.get(original.format, 'bin')}",
                                   app.registry.objects.get(original.sha256)))
    sealed = next((f for f in work.files if (f.regions or {}).get("watermark")), None)
    published = sealed or next((f for f in work.files if f.role == "published"), None)
    if published is not None:
        files["published"] = rel(_write(root / "work" / f"published.{EXT.get(published.format, 'bin')}",
                                        app.registry.objects.get(published.sha256)))
    anchor = app.keys.trust_anchor()
    if anchor:
        files["c2pa_anchor"] = rel(_write(root / "work" / "c2pa_anchor.pem", anchor))

    # -- the suspect use ------------------------------------------------------------------------
    s = m.suspect
    suspect_bytes = app.registry.objects.get(s.sha256)
    suspect_img = load_image(suspect_bytes)
    files["suspect"] = rel(_write(root / "suspect" / f"suspect.{EXT.get(suspect_img.format, 'bin')}", suspect_bytes))
    source = {"source": public_text(s.source), "kind": s.source_kind, "page_url": s.page_url,
              "location": public_text(s.location),
              "captured_at": s.captured_at.isoformat() if s.captured_at else None,
              "seen_at": s.seen_at.isoformat(), "sha256": s.sha256, "width": s.width, "height": s.height}
    files["suspect_source"] = rel(_write(root / "suspect" / "source.json", json.dumps(source, ensure_ascii=False, indent=2)))
    capture = collect_capture(app, s, suspect_img.rgb, root, files, m.localisation or {})

    # -- the journal ----------------------------------------------------------------------------
    bundle = app.journal.bundle()
    files["journal"] = rel(_write(root / "journal" / "journal.jsonl", bundle.to_jsonl()))
    public = app.keys.public()
    files["public_key"] = rel(_write(root / "journal" / "public_key.pem", app.keys.public_path.read_bytes()))
    report = app.journal.verify()
    latest = max(bundle.checkpoints, key=lambda c: c.size) if bundle.checkpoints else None
    work_entries = app.journal.entries(m.work_id)
    if work_entries:
        for lang_s, paths in app.statement(m.work_id, root / "journal", langs=("zh", "en")).items():
            for kind, p in paths.items():
                files[f"statement_{lang_s}_{kind}"] = rel(p)
        from inkseal.journal.statement import chart_png, gather

        facts_j = gather(work_entries, m.work_id, work.title, work.author.name)
        files["figure_timeline"] = rel(_write(root / "figures" / "timeline.png", chart_png(facts_j)))

    # -- same image: figures, scores, watermark -----------------------------------------------------
    files["figure_side_by_side"] = rel(root / "figures" / "side_by_side.png")
    (root / "figures").mkdir(exist_ok=True)
    app.match_figure(match_id).save(root / files["figure_side_by_side"])
    if m.scores.get("affine"):
        from inkseal.match.visual import render_overlay

        matched = app.registry.file(m.file_id)
        files["figure_overlay"] = rel(root / "figures" / "overlay.png")
        render_overlay(load_image(app.registry.objects.get(matched.sha256)).rgb, suspect_img.rgb,
                       np.array(m.scores["affine"]), m.localisation or {}).save(
            root / files["figure_overlay"])
    wm_result = None
    if sealed is not None and m.scores.get("affine"):
        wm_meta = sealed.regions["watermark"]
        ref_bytes = app.registry.objects.get(wm_meta["reference_sha256"])
        files["watermark_reference"] = rel(_write(root / "work" / "prewatermark.png", ref_bytes))
        key = app.keys.watermark_key_for(m.work_id, passphrase)
        files["watermark_key"] = rel(_write(root / "work" / "watermark.key", key.hex()))
        det = watermark.detect_informed(suspect_img.rgb, load_image(ref_bytes).rgb, np.array(m.scores["affine"]),
                                        key, [m.work_id])
        wm_result = det.as_dict()
    loc = m.localisation or {}
    sig = (loc.get("regions") or {}).get("signature")
    if sig and published is not None:
        x0, y0, x1, y1 = (int(v) for v in sig["box"])
        pub = load_image(app.registry.objects.get(published.sha256)).rgb
        crop = Image.fromarray(pub[max(0, y0 - 10):y1 + 10, max(0, x0 - 10):x1 + 10])
        files["figure_signature"] = rel(root / "figures" / "signature_region_published.png")
        crop.save(root / files["figure_signature"])
    inspection = inspect_bytes(app, suspect_bytes, lang=lang)

    # -- scale of use: other matches on the same site --------------------------------------------------
    host = _host(s.page_url) or _host(s.source)
    others = [{"match_id": o.id, "work_id": o.work_id, "source": public_text(o.suspect.source),
               "page_url": o.suspect.page_url,
               "score": round(o.score, 2)} for o in app.registry.matches()
              if o.id != m.id and host and host in (_host(o.suspect.page_url), _host(o.suspect.source))]

    # -- facts ---------------------------------------------------------------------------------------
    sig_box = (published.regions or {}).get("signature") if published else None
    c2pa = validate(app.registry.objects.get(published.sha256), published.format, anchor) if published else None
    stripped = [f["code"] for f in inspection["findings"]]
    facts = [
        fact("work_exists_and_original", bool(work_entries),
             ["journal", "statement_zh_pdf", "statement_en_pdf", "figure_timeline"],
             ["journal"], f"{len(work_entries)} journal entries for the work", f"作品共 {len(work_entries)} 条创作日志记录"),
        fact("claimant_made_it", report.ok and report.signed_size > 0 and bool(work_entries), ["journal", "public_key"],
             ["journal", "manifest_signature"], f"key {key_id(public)[:16]}…, {report.signed_size} signed entries",
             f"密钥 {key_id(public)[:16]}…，{report.signed_size} 条已签名记录"),
        fact("when", latest is not None, ["journal"], ["journal"],
             f"signed checkpoint {latest.signed_at if latest else '-'}; registered {work.registered_at.isoformat()}"
             + ("; RFC 3161 timestamp" if latest and latest.timestamp_token else ""),
             f"签名检查点 {latest.signed_at if latest else '-'}；登记于 {work.registered_at.isoformat()}"
             + ("；RFC 3161 可信时间戳" if latest and latest.timestamp_token else "")),
        fact("published_with_signature", published is not None and bool((published.regions or {}).get("signature")),
             ["published", "c2pa_anchor", "figure_signature"], ["c2pa"] if sealed else [],
             f"C2PA {c2pa['state'] if c2pa else 'absent'}; signature box {sig_box}",
             f"C2PA {c2pa['state'] if c2pa else '无'}；署名位置 {sig_box}"),
        fact("suspect_use", True, ["suspect", "suspect_source"] + [k for k in CAPTURE_FILES if k in files],
             ["files", *capture["checks"]],
             f"{source['source']} ({s.page_url or s.source_kind}), SHA-256 {s.sha256[:16]}…"
             + "".join(f"; {note}" for note in capture["notes"]),
             f"{source['source']}（{s.page_url or s.source_kind}），SHA-256 {s.sha256[:16]}…"
             + "".join(f"；{note}" for note in capture["notes_zh"])),
        fact("same_image", True, ["figure_side_by_side", "figure_overlay", "watermark_reference", "watermark_key"],
             ["watermark"] if wm_result and wm_result["detected"] else [], f"score {m.score:.1f}; watermark "
             + (f"{wm_result['agreement']} bits, FPP {wm_result['false_positive_probability']:.1e}" if wm_result else "not checked"),
             f"匹配得分 {m.score:.1f}；水印 "
             + (f"{wm_result['agreement']} 位一致，误报概率 {wm_result['false_positive_probability']:.1e}" if wm_result
                else "未检测")),
        fact("signature_removed", bool(sig and sig["status"] != "intact") or bool(stripped),
             ["figure_side_by_side", "figure_signature"], [],
             f"signature region {sig['status'] if sig else 'unknown'}; stripped: {', '.join(stripped) or 'none'}",
             f"署名区域{SIG_STATUS_ZH.get(sig['status'] if sig else 'unknown', '未知')}；被删除的信息：{'、'.join(STRIPPED_ZH.get(c, c) for c in stripped) or '无'}"),
        fact("scale_of_use", bool(others), [], [], f"{len(others)} other match(es) on {host or 'the same source'}",
             f"在 {host or '同一来源'} 上另有 {len(others)} 处匹配"),
    ]
    wilful = []
    if sig and sig["status"] == "cut":
        wilful.append("signature deliberately cut off (Art. 53(7))")
    if "label_removed" in stripped or "c2pa_missing_but_watermark" in stripped:
        wilful.append("rights-management information and AI labels stripped")
    dmg_in = damages or DamagesInput()
    dmg_in.uses = max(dmg_in.uses, 1 + len(others))
    dmg_in.wilful_reasons = dmg_in.wilful_reasons or wilful
    dmg = estimate(dmg_in)

    evidence = {
        "schema_version": SCHEMA, "generator": f"inkseal {__version__}", "created_at": datetime.now(UTC).isoformat(),
        "match": {"id": m.id, "score": m.score, "scores": m.scores, "localisation": loc, "status": m.status},
        "work": {"id": work.id, "title": work.title, "author": work.author.name,
                 "registered_at": work.registered_at.isoformat(), "original_sha256": original.sha256,
                 "published_sha256": published.sha256 if published else None},
        "suspect": source, "capture": capture, "journal": {"entries": report.entries, "signed_size": report.signed_size,
                                       "root_hash": report.root_hash, "ok": report.ok,
                                       "latest_checkpoint": latest.__dict__ | {"timestamp_token": None} if latest else None},
        "watermark": wm_result, "inspection": {"findings": inspection["findings"],
                                               "implicit_label": inspection["implicit_label"], "c2pa": inspection["c2pa"]},
        "published_c2pa_state": c2pa["state"] if c2pa else None,
        "other_matches": others, "facts": facts, "damages": dmg, "files": files,
        "signer": {"key_id": key_id(public), "public_key": "journal/public_key.pem"},
    }
    files["evidence"] = "evidence.json"
    _write(root / "evidence.json", json.dumps(evidence, ensure_ascii=False, indent=2, default=str))
    for name, text in render_drafts(evidence).items():
        _write(root / "drafts" / name, text)
    render_report(evidence, lang, root)

    manifest = manifest_lines(root)
    _write(root / "MANIFEST.sha256", manifest)
    sig_bytes = app.keys.private(passphrase).sign(manifest.encode())
    _write(root / "MANIFEST.sig", base64.b64encode(sig_bytes).decode() + "\n")
    if tsa_url:
        from inkseal.journal.timestamp import request_timestamp

        _write(root / "MANIFEST.tsr", request_timestamp(tsa_url, manifest.encode()))


SIG_STATUS_ZH = {"intact": "完整", "cut": "被裁掉", "altered": "被改动", "unknown": "未知"}
STRIPPED_ZH = {"label_missing": "无隐式标识", "label_removed": "隐式标识被删除", "label_invalid": "隐式标识格式错误",
               "label_signature_bad": "隐式标识签名与像素不符", "c2pa_missing_but_watermark": "C2PA 凭证被删除",
               "c2pa_invalid": "C2PA 凭证无效", "signature_cut": "署名被裁掉", "signature_altered": "署名被改动",
               "ai_label_cut": "显式 AI 标识被裁掉或遮盖"}


def fact(name: str, proven: bool, files: list[str], checks: list[str], detail: str, detail_zh: str) -> dict[str, Any]:
    return {"fact": name, "status": "proven" if proven else "missing", "files": files, "checks": checks,
            "detail": detail, "detail_zh": detail_zh}
