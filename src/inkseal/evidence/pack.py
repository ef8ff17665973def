"""`inkseal evidence MATCH -o PACK`: everything a platform, lawyer or court needs, checkable offline.

The facts mirror what the court had to find in Li v. Liu (../shared/CASE.md); each names its files and
the checks `evidence verify` re-runs. A fact without evidence is marked missing, never invented.
"""

from __future__ import annotations

import base64
import ipaddress
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from inkseal import __version__
from inkseal.evidence.capture import collect_capture
from inkseal.evidence.cases import host, places_on_site
from inkseal.evidence.damages import DamagesInput, estimate
from inkseal.evidence.drafts import render_drafts, render_report
from inkseal.evidence.factbuild import build_facts
from inkseal.evidence.verify import MANIFEST_FILES  # the only files the manifest cannot list
from inkseal.errors import InksealError
from inkseal.imaging import load_image
from inkseal.journal.keys import KeyError_, key_id
from inkseal.journal.log import export_subset, verify_subset
from inkseal.seal import watermark
from inkseal.seal.c2pa_sign import validate

if TYPE_CHECKING:
    from inkseal.services import EvidenceContext

SCHEMA = "inkseal-evidence/1"
EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "TIFF": "tif", "BMP": "bmp"}


def _write(path: Path, data: bytes | str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)




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


def build_pack(app: EvidenceContext, match_id: int, out: Path, *, passphrase: str, lang: str = "zh",
               damages: DamagesInput | None = None, as_zip: bool = False, tsa_url: str | None = None,
               force: bool = False, include_originals: bool = False, include_watermark_key: bool = False,
               for_platform: bool = False) -> Path:
    """Build the pack in a fresh temporary folder next to the target and move it into place when complete:
    a failure leaves the target as it was, and nothing the user made is ever deleted (see _check_target).

    Privacy by default: the pack holds this work's journal entries only (with inclusion proofs), never
    the clean original, the pre-watermark pixels or the watermark key unless asked (`include_originals`,
    `include_watermark_key`); `for_platform` writes the redacted pack a takedown needs (no journal, no
    damages, no demand letter)."""
    opts = PackOptions(include_originals=include_originals and not for_platform,
                       include_watermark_key=include_watermark_key and not for_platform, for_platform=for_platform)
    if (app.registry.match(match_id).scores or {}).get("tier") == "derivative":
        # Every fact of a pack ("the same image", "the signature was removed") speaks of a copy; an edit of the
        # work is for the creator and a lawyer to judge, so no signed pack claims it.
        raise InksealError(f"match {match_id} is a derivative (an edit of the work, not a copy): no evidence pack is "
                           f"built for it / 匹配 {match_id} 属于衍生（对作品的改编，而非复制）：不为其生成证据包")
    if for_platform:
        require_contact(app.settings)
    target = (out if out.suffix == ".zip" else out.with_suffix(".zip")) if as_zip else out
    target = target.absolute()
    _check_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.inkseal-", dir=target.parent))
    try:
        root = work_dir / "pack"
        root.mkdir()
        _build(app, match_id, root, passphrase=passphrase, lang=lang, damages=damages, tsa_url=tsa_url, opts=opts)
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


@dataclass
class PackOptions:
    include_originals: bool = False  # the clean registered original (and a matched unpublished version)
    include_watermark_key: bool = False  # the work's watermark key and pre-watermark pixels: lets anyone re-read it
    for_platform: bool = False  # redacted: what a takedown needs, nothing private


CONTACT_FIELDS = {"contact_name": ("name", "姓名"), "contact_address": ("postal address", "通讯地址"),
                  "contact_email": ("e-mail", "电子邮箱")}


def contact(settings: Any) -> dict[str, str]:
    """The creator's contact details for notices (settings read defensively: older configs lack them)."""
    return {k: str(getattr(settings, k, "") or "").strip()
            for k in ("contact_name", "contact_email", "contact_address", "contact_phone")}


def missing_contact(settings: Any) -> list[str]:
    c = contact(settings)
    return [k for k in CONTACT_FIELDS if not c[k]]


class ContactMissing(InksealError):
    """A takedown notice needs the right holder's name, address and contact (Art. 14; §512(c)(3))."""


def require_contact(settings: Any) -> None:
    gaps = missing_contact(settings)
    if gaps:
        raise ContactMissing(
            "a takedown notice must give your " + ", ".join(CONTACT_FIELDS[g][0] for g in gaps)
            + f": set {', '.join(gaps)} in config.toml (or INKSEAL_{gaps[0].upper()}) / 侵权通知须写明权利人的"
            + "、".join(CONTACT_FIELDS[g][1] for g in gaps) + f"：请在 config.toml 中设置 {', '.join(gaps)}")


def _is_public_url(url: str | None) -> bool:
    """http(s) to a name or address the public can reach (not loopback, private, link-local, .local)."""
    if not url or urlparse(url).scheme not in ("http", "https"):
        return False
    h = host(url)
    if not h or h == "localhost" or h.endswith((".localhost", ".local", ".internal", ".lan")):
        return False
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return "." in h
    return ip.is_global


def _signature_region(app: EvidenceContext, version: Any, loc: dict, suspect_rgb: np.ndarray, affine: Any) -> dict | None:
    """The signature region of THE version the copy derives from, as it survives in the copy: taken from
    the stored localisation only when it was measured against that version's box, else measured again."""
    box = (version.regions or {}).get("signature")
    if not box:
        return None
    sig = (loc.get("regions") or {}).get("signature")
    if sig and [round(v, 1) for v in box] == list(sig.get("box", [])):
        return sig
    if affine is None:
        return None
    from inkseal.match.localise import localise

    ref = load_image(app.registry.objects.get(version.sha256)).rgb
    fresh = localise(suspect_rgb, ref, np.array(affine), {"signature": box}).regions
    return fresh.get("signature")


def _build(app: EvidenceContext, match_id: int, root: Path, *, passphrase: str, lang: str,
           damages: DamagesInput | None, tsa_url: str | None, opts: PackOptions) -> None:
    from inkseal.match.visual import render_match
    from inkseal.seal.inspect import inspect_bytes

    m = app.registry.match(match_id)
    work = app.registry.work(m.work_id)
    rel = lambda p: Path(p).relative_to(root).as_posix()  # noqa: E731
    files: dict[str, str] = {}
    platform = opts.for_platform

    # -- the work: the version the copy derives from (the file the match was verified against) ----------------
    version = app.registry.file(m.file_id)
    original = next((f for f in work.files if f.role == "original"), work.files[0])
    version_public = version.role != "original"
    if version_public:
        files["published"] = rel(_write(root / "work" / f"published.{EXT.get(version.format, 'bin')}",
                                        app.registry.objects.get(version.sha256)))
    if opts.include_originals:
        files["original"] = rel(_write(root / "work" / f"original.{EXT.get(original.format, 'bin')}",
                                       app.registry.objects.get(original.sha256)))
        if not version_public and version.id != original.id:
            files["version"] = rel(_write(root / "work" / f"version.{EXT.get(version.format, 'bin')}",
                                          app.registry.objects.get(version.sha256)))
    anchor = app.keys.trust_anchor()
    if anchor and version_public:
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

    # -- the journal: this work's entries only, each with its inclusion proof ----------------------------
    if not app.keys.public_path.exists():
        raise KeyError_("no signing key yet: run `inkseal keys init` / 尚无签名密钥：请先运行 `inkseal keys init`")
    files["public_key"] = rel(_write(root / "journal" / "public_key.pem", app.keys.public_path.read_bytes()))
    public = app.keys.public()
    work_entries = app.journal.entries(m.work_id)
    journal_info: dict[str, Any] = {"entries": len(work_entries), "included": 0, "signed_size": 0,
                                    "root_hash": None, "ok": False, "latest_checkpoint": None, "selection": None}
    latest = None
    if work_entries and not platform:
        app.journal.checkpoint(passphrase)  # every entry of the work under a signed checkpoint (no-op if none new)
        bundle = app.journal.bundle()
        work_seqs = {e["seq"] for e in work_entries}
        sub = export_subset(bundle, work_seqs, f"work {m.work_id}")
        sub_report = verify_subset(sub)
        latest = sub.checkpoint
        files["journal"] = rel(_write(root / "journal" / "journal.jsonl", sub.to_jsonl()))
        # `seqs` lists every entry shipped (key rotations too: verify compares it with the subset);
        # `included` counts only this work's, which is what the facts state.
        journal_info.update(included=sum(e.seq in work_seqs for e in sub.entries), seqs=[e.seq for e in sub.entries], signed_size=latest.size, root_hash=latest.root_hash,
                            ok=sub_report.ok, selection=sub.selection,
                            latest_checkpoint=latest.__dict__ | {"timestamp_token": None})
        from inkseal.journal.statement import chart_png, gather, render

        # The statement speaks of what the pack holds: this work's entries and their inclusion proofs.
        facts_j = gather(work_entries, m.work_id, work.title, work.author.name)
        for lang_s in ("zh", "en"):
            for kind, p in render(facts_j, sub_report, lang_s, root / "journal", subset=True).items():
                files[f"statement_{lang_s}_{kind}"] = rel(p)
        files["figure_timeline"] = rel(_write(root / "figures" / "timeline.png", chart_png(facts_j, lang)))

    # -- same image: figures, scores, watermark -----------------------------------------------------
    (root / "figures").mkdir(exist_ok=True)
    version_rgb = load_image(app.registry.objects.get(version.sha256)).rgb
    loc = dict(m.localisation or {})
    affine = m.scores.get("affine")
    sig = _signature_region(app, version, loc, suspect_img.rgb, affine)
    caption = (f"作品《{work.title}》，匹配得分 {m.score:.1f}" if lang == "zh"
               else f"work '{work.title}', match score {m.score:.1f}")
    files["figure_side_by_side"] = rel(root / "figures" / "side_by_side.png")
    render_match(version_rgb, suspect_img.rgb, loc, caption, lang=lang).save(root / files["figure_side_by_side"])
    if affine:
        from inkseal.match.visual import render_overlay

        files["figure_overlay"] = rel(root / "figures" / "overlay.png")
        render_overlay(version_rgb, suspect_img.rgb, np.array(affine), loc).save(root / files["figure_overlay"])
    wm_result = None
    wm_meta = (version.regions or {}).get("watermark")
    if wm_meta and affine:
        ref_bytes = app.registry.objects.get(wm_meta["reference_sha256"])
        key = app.keys.watermark_key_for(m.work_id, passphrase)
        det = watermark.detect_informed(suspect_img.rgb, load_image(ref_bytes).rgb, np.array(affine), key, [m.work_id])
        wm_result = det.as_dict()
        if opts.include_watermark_key:
            files["watermark_reference"] = rel(_write(root / "work" / "prewatermark.png", ref_bytes))
            files["watermark_key"] = rel(_write(root / "work" / "watermark.key", key.hex()))
    blind_result = None
    if (wm_meta or {}).get("blind"):  # keyless: the suspect's mark against the version's soft binding
        from inkseal.evidence.blindfact import read_for

        blind_result = read_for(suspect_img.rgb, wm_meta["blind"]["value"])
    sig_box = (version.regions or {}).get("signature")
    if sig_box:
        x0, y0, x1, y1 = (int(v) for v in sig_box)
        crop = Image.fromarray(version_rgb[max(0, y0 - 10):y1 + 10, max(0, x0 - 10):x1 + 10])
        files["figure_signature"] = rel(root / "figures" / "signature_region_published.png")
        crop.save(root / files["figure_signature"])
    inspection = inspect_bytes(app, suspect_bytes, lang=lang)

    # -- scale of use: distinct places of this work on the same site -------------------------------------
    scale = places_on_site(app.registry.matches(work_id=m.work_id), m)
    others = [p for p in scale["places"] if not p["this"]]

    # -- facts ---------------------------------------------------------------------------------------
    c2pa = validate(app.registry.objects.get(version.sha256), version.format, anchor) if version_public and anchor else None
    facts = build_facts(m=m, work=work, version=version, version_public=version_public, source=source,
                        capture=capture, files=files, journal=journal_info, latest=latest, kid=key_id(public),
                        c2pa=c2pa, wm=wm_result, key_in_pack="watermark_key" in files, sig=sig, loc=loc, blind=blind_result,
                        inspection=inspection, scale=scale, platform=platform, public_url=_is_public_url(s.source)
                        or _is_public_url(s.page_url))
    wilful = wilful_reasons(facts, sig, loc, version)
    dmg = None
    if not platform:
        dmg_in = damages or DamagesInput()
        dmg_in.uses = max(dmg_in.uses, len(scale["places"]) or 1)
        dmg_in.wilful_reasons = dmg_in.wilful_reasons or wilful
        dmg = estimate(dmg_in)

    today = datetime.now(UTC)
    evidence = {
        "schema_version": SCHEMA, "generator": f"inkseal {__version__}", "created_at": today.isoformat(),
        "audience": "platform" if platform else "court",
        "match": {"id": m.id, "score": m.score, "scores": m.scores, "localisation": loc, "status": m.status,
                  "tier": m.scores.get("tier") or "copy", "case_id": getattr(m, "case_id", None)},
        "work": {"id": work.id, "title": work.title, "author": work.author.name,
                 "registered_at": work.registered_at.isoformat(),
                 "original_sha256": original.sha256 if opts.include_originals else None,
                 "version": {"file_id": version.id, "role": version.role, "format": version.format,
                             "sha256": version.sha256, "width": version.width, "height": version.height,
                             "signature": bool(sig_box), "ai_label": bool((version.regions or {}).get("ai_label")),
                             "watermark": bool(wm_meta)},
                 "published_sha256": version.sha256 if version_public else None},
        "contact": contact(app.settings), "contact_missing": missing_contact(app.settings),
        "suspect": source, "capture": capture, "journal": journal_info,
        "watermark": wm_result, "blind_mark": blind_result, "inspection": {"findings": inspection["findings"],
                                               "implicit_label": inspection["implicit_label"], "c2pa": inspection["c2pa"]},
        "published_c2pa_state": c2pa["state"] if c2pa else None,
        "scale_of_use": scale, "other_matches": others, "facts": facts, "damages": dmg, "files": files,
        "private_included": {"originals": opts.include_originals, "watermark_key": opts.include_watermark_key},
        "letter": {"date": today.date().isoformat(), "deadline": (today + timedelta(days=15)).date().isoformat()},
        "signer": {"key_id": key_id(public), "public_key": "journal/public_key.pem"},
    }
    draft_names = ["takedown.zh.txt", "takedown.en.txt"] + ([] if platform else ["demand.zh.txt", "demand.en.txt"])
    evidence["attachments"] = sorted({*files.values(), "evidence.json", "report.html", "report.pdf",
                                      *(f"drafts/{n}" for n in draft_names), *MANIFEST_FILES[:2],
                                      *(["MANIFEST.tsr"] if tsa_url else [])})
    files["evidence"] = "evidence.json"
    _write(root / "evidence.json", json.dumps(evidence, ensure_ascii=False, indent=2, default=str))
    drafts = render_drafts(evidence, platform=platform)
    assert sorted(drafts) == sorted(draft_names)  # the drafts list exactly what is attached
    for name, text in drafts.items():
        _write(root / "drafts" / name, text)
    render_report(evidence, lang, root)

    manifest = manifest_lines(root)
    _write(root / "MANIFEST.sha256", manifest)
    sig_bytes = app.keys.private(passphrase).sign(manifest.encode())
    _write(root / "MANIFEST.sig", base64.b64encode(sig_bytes).decode() + "\n")
    if tsa_url:
        from inkseal.journal.timestamp import request_timestamp

        _write(root / "MANIFEST.tsr", request_timestamp(tsa_url, manifest.encode()))


def wilful_reasons(facts: list[dict], sig: dict | None, loc: dict, version: Any) -> list[str]:
    by = {f["fact"]: f for f in facts}
    out: list[str] = []
    if by["suspect_use"]["level"] == "missing":  # no third party shown: nobody to be wilful
        return out
    if sig and sig.get("status") == "cut" and by["signature_removed"]["level"] in ("verifiable", "supported"):
        out.append("signature deliberately cut off (Art. 53(7))")
    if by["signature_removed"].get("stripped"):
        out.append("rights-management information and AI labels stripped")
    return out
