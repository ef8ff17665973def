"""`inkseal evidence verify PACK`: a standalone check that needs no registry and no network.

Checks, each named so that facts can depend on them:
    manifest_signature  MANIFEST.sig is the author's Ed25519 signature over MANIFEST.sha256
    files               every file listed has its hash; nothing unlisted was added
    journal             the journal bundle verifies (entries, signatures, checkpoints, Merkle proofs)
                        and its latest checkpoint is the one evidence.json names
    c2pa                the published file's C2PA manifest validates Trusted with the pack's anchor
    watermark           the watermark decode re-run from the pack's own files gives the recorded result
                        (only when the pack holds the key: `--include-watermark-key`)
    blind_mark          the blind mark read from the suspect with no key is the soft binding that the
                        published file's signed C2PA manifest names (evidence/blindfact.py)
    screenshot, warc    the page screenshot shows the suspect at its box; the WARC record's payload is
                        the suspect (see inkseal.evidence.capture)
Each fact carries its proof level (see inkseal.evidence.facts); a verifiable fact passes when all its
checks pass now, a supported one must be consistent with its checks (it cannot be independently checked).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inkseal.errors import one_line
from inkseal.evidence.zipread import PackArchiveError, ZipLimits, ZipPack, safe_relative
from inkseal.i18n import t
from inkseal.journal.keys import key_id, load_public, verify_signature
from inkseal.evidence.facts import level_of
from inkseal.journal.log import (Bundle, CheckpointRecord, Problem, Subset, is_subset, verify_bundle,
                                 verify_subset)

MANIFEST_FILES = ("MANIFEST.sha256", "MANIFEST.sig", "MANIFEST.tsr")
_LINE = re.compile(r"^([0-9a-f]{64})  (.+)$")


@dataclass
class PackReport:
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    facts: list[dict] = field(default_factory=list)
    checks_zh: dict[str, str] = field(default_factory=dict)  # Chinese detail, where a check has one
    signer: dict = field(default_factory=dict)  # key id (fingerprint), name as evidence.json gives it, pinned
    notes: list[tuple[str, str]] = field(default_factory=list)  # (English, Chinese): what the result cannot say

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks.values()) and all(
            f["verified"] for f in self.facts if f["level"] == "verifiable") and all(
            f["consistent"] for f in self.facts if f["level"] == "supported")

    def as_dict(self) -> dict:
        return {"ok": self.ok, "signer": self.signer, "notes": [en for en, _ in self.notes],
                "checks": {k: {"ok": ok, "detail": d} | ({"detail_zh": self.checks_zh[k]} if k in self.checks_zh else {})
                           for k, (ok, d) in self.checks.items()},
                "facts": self.facts}

    def fail(self, name: str, en: str, zh: str) -> PackReport:
        self.checks[name] = (False, en)
        self.checks_zh[name] = zh
        return self


def normalise_fingerprint(text: str) -> str:
    """A key fingerprint as typed (spaces, colons, any case) -> lower-case hex; at least 32 digits (128 bits)."""
    hexdigits = re.sub(r"[\s:]", "", text).lower()
    if not re.fullmatch(r"[0-9a-f]{32,64}", hexdigits):
        raise ValueError("a fingerprint is 32 to 64 hex digits (the key id `inkseal keys show` prints)")
    return hexdigits


def verify_pack(path: Path, *, pinned_key: str | None = None, pinned_checkpoint: CheckpointRecord | None = None,
                limits: ZipLimits | None = None) -> PackReport:
    """Check a pack folder or zip. `pinned_key`: a key id (or a prefix of 32+ hex digits) the verifier got
    from the author; without one the report says whose key it trusted and what that cannot prove."""
    pinned_key = normalise_fingerprint(pinned_key) if pinned_key is not None else None
    try:
        if path.is_file():
            with ZipPack(path, limits) as z, tempfile.TemporaryDirectory(prefix="inkseal-verify-") as tmp:
                z.extract_to(Path(tmp))
                return _verify_dir(Path(tmp), pinned_key, pinned_checkpoint)
        if not path.is_dir():
            return PackReport().fail("archive", f"{path} is neither a pack folder nor a zip",
                                     f"{path} 不是证据包文件夹或 zip")
        return _verify_dir(path, pinned_key, pinned_checkpoint)
    except PackArchiveError as exc:
        return PackReport().fail("archive", str(exc), f"压缩包被拒绝：{exc}")
    except Exception as exc:  # noqa: BLE001 - a malformed pack (odd JSON shapes, ...) is a failed check, never a crash
        return PackReport().fail("pack", f"malformed pack: {type(exc).__name__}: {str(exc)[:160]}",
                                 "证据包格式错误，无法核验")


def _walk(root: Path) -> tuple[set[str], list[str]]:
    """Regular files under root (relative, posix) and anything that is not (symlinks, devices, fifos)."""
    files, odd = set(), []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                odd.append(rel)
            elif name in filenames:
                (files.add(rel) if p.is_file() else odd.append(rel))
    return files, odd


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:  # streamed: a pack may hold large originals and page captures
        return hashlib.file_digest(f, "sha256").hexdigest()


def _parse_manifest(manifest: str) -> tuple[dict[str, str], list[str]]:
    listed: dict[str, str] = {}
    problems = []
    for no, line in enumerate(manifest.splitlines(), start=1):
        m = _LINE.match(line)
        if not m:
            problems.append(f"MANIFEST line {no} is malformed")
        elif not safe_relative(m.group(2)) or m.group(2) in MANIFEST_FILES:
            problems.append(f"MANIFEST line {no} names a path outside the pack: {m.group(2)[:80]!r}")
        elif m.group(2) in listed:
            problems.append(f"MANIFEST lists {m.group(2)} twice")
        else:
            listed[m.group(2)] = m.group(1)
    return listed, problems


def _verify_dir(root: Path, pinned_key: str | None = None, pinned_checkpoint: CheckpointRecord | None = None) -> PackReport:
    rep = PackReport()
    c = rep.checks
    present, odd = _walk(root)
    if odd:  # a link could make any check below read a file outside the pack: refuse before reading
        return rep.fail("files", f"not plain files (links): {', '.join(sorted(odd))}",
                        f"包含链接等非普通文件：{'、'.join(sorted(odd))}")
    try:
        manifest = (root / "MANIFEST.sha256").read_text(encoding="utf-8")
        sig = base64.b64decode((root / "MANIFEST.sig").read_text().strip(), validate=True)
        public = load_public((root / "journal" / "public_key.pem").read_bytes())
        kid = key_id(public)
        c["manifest_signature"] = (verify_signature(public, sig, manifest.encode()), f"signed by key {kid}")
    except Exception as exc:  # noqa: BLE001 - any unreadable part is a failed check, named
        return rep.fail("manifest_signature", f"unreadable: {one_line(exc)}",
                        "MANIFEST 或其签名无法读取")
    rep.signer = {"key_id": kid, "name": None, "pinned": pinned_key is not None}
    if pinned_key is not None:
        if kid.startswith(pinned_key):
            c["trusted_key"] = (True, f"the pack is signed by the pinned key {kid}")
        else:
            rep.fail("trusted_key", f"the pack is signed by key {kid[:16]}…, NOT the pinned key {pinned_key[:16]}…",
                     f"证据包由密钥 {kid[:16]}… 签署，不是指定的可信密钥 {pinned_key[:16]}…")
    else:
        rep.notes.append((t("verify_unpinned", "en", kid=kid), t("verify_unpinned", "zh", kid=kid)))
    tsr = root / "MANIFEST.tsr"
    if tsr.exists():
        c["manifest_timestamp"] = _check_manifest_timestamp(tsr.read_bytes(), manifest.encode())

    # -- files: every listed file hashes right, nothing else is there, nothing points outside ---------------
    listed, manifest_problems = _parse_manifest(manifest)
    bad = [name for name, digest in listed.items() if name not in present or _sha256(root / name) != digest]
    extra = sorted(present - set(listed) - set(MANIFEST_FILES))
    c["files"] = (not bad and not extra and not manifest_problems,
                  f"{len(listed)} files; changed: {', '.join(bad) or 'none'}; unlisted: {', '.join(extra) or 'none'}"
                  + "".join(f"; {p}" for p in manifest_problems))
    if not c["files"][0]:
        rep.checks_zh["files"] = (f"{len(listed)} 个文件；被改动：{'、'.join(bad) or '无'}；未列出：{'、'.join(extra) or '无'}"
                                  + ("；MANIFEST 格式错误或含包外路径" if manifest_problems else ""))
    intact = {n for n in listed if n not in bad}

    def member(name: object) -> Path:
        """A file evidence.json names: only one the signed MANIFEST lists and that hashed right."""
        if not isinstance(name, str) or name not in intact:
            raise ValueError(f"{name!r} is not an intact file listed in the MANIFEST")
        return root / name

    try:
        evidence = json.loads(member("evidence.json").read_text(encoding="utf-8"))
        if not isinstance(evidence, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        rep.fail("evidence", f"evidence.json unreadable: {exc}", "evidence.json 无法读取")
        return rep
    rep.signer["name"] = (evidence.get("work") or {}).get("author")
    c["signer"] = ((evidence.get("signer") or {}).get("key_id") == kid, "evidence.json names this key")
    files = evidence.get("files") if isinstance(evidence.get("files"), dict) else {}
    outside = sorted(f"{k}={v!r}"[:100] for k, v in files.items() if not (isinstance(v, str) and v in listed))
    c["paths"] = (not outside, "every file evidence.json names is in the pack and listed"
                  + (f"; not: {', '.join(outside)}" if outside else ""))
    if outside:
        rep.checks_zh["paths"] = f"evidence.json 指向包外或未列出的文件：{'、'.join(outside)}"

    j = evidence.get("journal") if isinstance(evidence.get("journal"), dict) else {}
    # a platform pack, or a work never journaled, holds no journal; any other pack must
    if "journal" in files or (evidence.get("audience") != "platform" and (j.get("entries") != 0 or "seqs" in j)):
        _check_journal(rep, member, evidence, files, kid, pinned_key, pinned_checkpoint)

    published_manifest = None  # the published file's active manifest, read once for the c2pa and blind_mark checks
    if "published" in files and "c2pa_anchor" in files:
        try:
            from inkseal.seal.c2pa_sign import validate

            data = member(files["published"]).read_bytes()
            fmt = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}.get(files["published"].rsplit(".", 1)[-1], "PNG")
            validation = validate(data, fmt, member(files["c2pa_anchor"]).read_bytes())
            state, published_manifest = validation["state"], validation.get("manifest")
            recorded = evidence.get("published_c2pa_state")
            c["c2pa"] = (state == recorded and state in ("Trusted", "Valid"), f"{state} (recorded {recorded})")
        except Exception as exc:  # noqa: BLE001 - a broken file is a failed check, not a crash
            c["c2pa"] = (False, f"unreadable: {one_line(exc)}")

    if evidence.get("watermark") and "watermark_key" in files:
        try:
            from inkseal.imaging import load_image
            from inkseal.seal import watermark

            key = bytes.fromhex(member(files["watermark_key"]).read_text().strip())
            det = watermark.detect_informed(load_image(member(files["suspect"]).read_bytes()).rgb,
                                            load_image(member(files["watermark_reference"]).read_bytes()).rgb,
                                            np.array(evidence["match"]["scores"]["affine"]), key,
                                            [evidence["work"]["id"]])
            recorded = evidence["watermark"]
            again = det.as_dict()
            c["watermark"] = (again["agreement"] == recorded["agreement"] and det.detected == recorded["detected"],
                              f"{again['agreement']} bits, FPP {again['false_positive_probability']:.1e} "
                              f"(recorded {recorded['agreement']})")
        except Exception as exc:  # noqa: BLE001 - a broken file is a failed check, not a crash
            c["watermark"] = (False, f"cannot re-run the decode: {one_line(exc)}")

    if evidence.get("blind_mark") and "published" in files and "suspect" in files:
        try:
            from inkseal.evidence.blindfact import manifest_binding, read_for
            from inkseal.imaging import load_image

            value = manifest_binding((published_manifest or {}).get("assertions") or [])
            if value is None:
                c["blind_mark"] = (False, "the published file's manifest could not be validated or names no blind mark")
            else:
                again = read_for(load_image(member(files["suspect"]).read_bytes()).rgb, value)
                recorded = evidence["blind_mark"]
                c["blind_mark"] = (again["detected"] == recorded.get("detected") and value == recorded.get("value"),
                                   f"{'read' if again['detected'] else 'not read'}: {value} (recorded "
                                   f"{'read' if recorded.get('detected') else 'not read'})")
        except Exception as exc:  # noqa: BLE001 - a broken file is a failed check, not a crash
            c["blind_mark"] = (False, f"cannot re-read the blind mark: {one_line(exc)}")

    _check_capture(member, evidence, files, c)

    for f in evidence.get("facts", []):
        if not isinstance(f, dict):
            rep.fail("evidence", "a fact in evidence.json is not an object", "evidence.json 中的事实格式错误")
            continue
        level = level_of(f)
        needed = [*f.get("checks", []), "files", "manifest_signature", "paths", *(["trusted_key"] if "trusted_key" in c else [])]
        holds = all(c.get(k, (False, ""))[0] for k in needed)  # a check that could not run counts as failed
        # `verified`: a verifiable fact whose checks hold now; a supported one is only "consistent"
        rep.facts.append({**f, "level": level, "verified": holds if level == "verifiable" else False,
                          "consistent": holds if level in ("verifiable", "supported") else None})
    return rep


def _check_journal(rep: PackReport, member, evidence: dict, files: dict, kid: str,  # type: ignore[no-untyped-def]
                   pinned_key: str | None, pinned_checkpoint: CheckpointRecord | None) -> None:
    """The journal in the pack: a work's subset (entries with inclusion proofs against one signed checkpoint)
    or, in packs made before subsets, the whole journal; its checkpoint must be the one evidence.json names."""
    c = rep.checks
    try:
        from inkseal.journal.timestamp import check_timestamp

        text = member(files.get("journal")).read_text(encoding="utf-8")
        pinned_full = pinned_key
        if is_subset(text):
            sub = Subset.from_jsonl(text)
            if pinned_key is not None:
                pinned_full = next((k for k in [kid, *sub.public_keys, sub.checkpoint.key_id] if k.startswith(pinned_key)),
                                   pinned_key)
            jr = verify_subset(sub, check_timestamp, pinned_key=pinned_full, pinned_checkpoint=pinned_checkpoint)
            latest = sub.checkpoint
            named_seqs = (evidence.get("journal") or {}).get("seqs")
            if named_seqs != [e.seq for e in sorted(sub.entries, key=lambda e: e.seq)]:
                jr.problems.append(Problem(None, "the journal's entries are not the ones evidence.json lists "
                                                 "(entries dropped or added)"))
            kind = f"{jr.entries} entries of {sub.selection}, each proven included in a checkpoint of {latest.size}"
        else:
            bundle = Bundle.from_jsonl(text)
            jr = verify_bundle(bundle, timestamp_checker=check_timestamp, pinned_checkpoint=pinned_checkpoint,
                               pinned_key=None if pinned_key is None else _full(pinned_key, bundle, kid))
            latest = max(bundle.checkpoints, key=lambda cp: cp.size) if bundle.checkpoints else None
            if "seqs" in (evidence.get("journal") or {}):  # made as a subset: a whole journal is not what was signed for
                jr.problems.append(Problem(None, "evidence.json lists a subset of entries, but the pack holds a whole journal"))
            kind = f"{jr.entries} entries, {jr.signed_size} signed"
        bad_ts = [t for t in jr.timestamps if not t.get("ok")]
        named = (evidence.get("journal") or {}).get("latest_checkpoint") or {}
        same = (latest is None and not named) or (latest is not None and named.get("root_hash") == latest.root_hash
                                                  and named.get("size") == latest.size)
        # The manifest's key must be the journal's key in force at its end: one author, one chain.
        same_key = jr.current_key is None or jr.current_key == kid
        problem = "" if jr.ok else f"; {jr.problems[0].message}"
        if not same_key:
            problem += f"; the journal is signed by {jr.current_key[:16]}…, not by the pack's key {kid[:16]}…"
        c["journal"] = (jr.ok and same and same_key and not bad_ts,
                        f"{kind}, {len(jr.timestamps)} timestamp(s); "
                        f"latest checkpoint {'matches' if same else 'DIFFERS from'} evidence.json" + problem)
        if c["journal"][0]:
            rep.checks_zh["journal"] = f"日志记录 {jr.entries} 条，均可证明包含于已签名的检查点；与 evidence.json 一致"
        else:
            rep.checks_zh["journal"] = ("创作日志校验失败：" + ("最新检查点与 evidence.json 不符（日志被截断或替换）；"
                                                      if not same else "") + ("签名密钥不一致；" if not same_key else "")
                                        + (jr.problems[0].message if jr.problems else ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        rep.fail("journal", f"journal unreadable: {exc}", "创作日志无法读取")


def _full(pinned: str, bundle: Bundle, manifest_kid: str) -> str:
    """Expand a pinned fingerprint prefix to the full key id it names among the keys the pack shows."""
    for kid in [manifest_kid, *bundle.public_keys, *(cp.key_id for cp in bundle.checkpoints)]:
        if kid.startswith(pinned):
            return kid
    return pinned


def _check_capture(member, evidence: dict, files: dict, c: dict) -> None:  # type: ignore[no-untyped-def]
    from inkseal.evidence import capture

    suspect = evidence.get("suspect") or {}
    wanted = (evidence.get("capture") or {}).get("checks") or []
    try:
        if "screenshot" in wanted:
            from inkseal.imaging import load_image

            c["screenshot"] = capture.check_screenshot(member(files.get("page_screenshot")).read_bytes(),
                                                       load_image(member(files.get("suspect")).read_bytes()).rgb,
                                                       (evidence.get("capture") or {}).get("box"))
        if "warc" in wanted:
            c["warc"] = capture.check_warc(member(files.get("warc_record")).read_bytes(), suspect.get("sha256", ""),
                                           suspect.get("source", ""), suspect.get("page_url"))
    except Exception as exc:  # noqa: BLE001 - a missing or broken file is a failed check, named
        for name in wanted:
            c[name] = (False, f"cannot check: {one_line(exc)}")


def _check_manifest_timestamp(token: bytes, manifest: bytes) -> tuple[bool, str]:
    """The RFC 3161 token must cover exactly this manifest (chain checked when INKSEAL_TSA_ROOTS is set)."""
    try:
        from rfc3161_client import decode_timestamp_response

        resp = decode_timestamp_response(token)
        info = resp.tst_info
        algo = getattr(info.message_imprint.hash_algorithm, "_name", "") or str(info.message_imprint.hash_algorithm)
        digest = {"sha256": hashlib.sha256, "sha384": hashlib.sha384}.get(algo, hashlib.sha512)
        ok = bytes(info.message_imprint.message) == digest(manifest).digest()
        roots = os.environ.get("INKSEAL_TSA_ROOTS")
        if ok and roots and Path(roots).exists():
            from cryptography import x509
            from rfc3161_client import VerifierBuilder

            builder = VerifierBuilder()
            for cert in x509.load_pem_x509_certificates(Path(roots).read_bytes()):
                builder = builder.add_root_certificate(cert)
            builder.build().verify_message(resp, manifest)
        return ok, f"time {info.gen_time.isoformat()}" + ("" if ok else "; imprint does not match the manifest")
    except Exception as exc:  # noqa: BLE001 - an unreadable token is a failed check
        return False, f"unreadable timestamp: {exc}"


CHECK_NAMES_ZH = {"manifest_signature": "清单签名", "trusted_key": "可信密钥", "manifest_timestamp": "清单可信时间戳",
                  "files": "文件完整性", "signer": "签署人", "paths": "文件路径", "journal": "创作日志",
                  "c2pa": "C2PA 凭证", "watermark": "水印", "blind_mark": "盲水印", "screenshot": "页面截图", "warc": "WARC 记录",
                  "evidence": "证据说明文件", "archive": "压缩包", "pack": "证据包"}
CHECK_OK_ZH = {"manifest_signature": "清单由该密钥签名", "trusted_key": "由指定的可信密钥签署",
               "manifest_timestamp": "可信时间戳覆盖本清单", "files": "所有文件与清单一致，无多余文件",
               "signer": "evidence.json 指明的正是该密钥", "paths": "evidence.json 所指文件均在包内且列于清单",
               "c2pa": "已发布文件的 C2PA 凭证有效", "watermark": "用包内文件重新读出的水印与记录一致",
               "blind_mark": "无需密钥从副本读出的盲水印与已发布文件 C2PA 凭证所载软绑定一致",
               "screenshot": "页面截图在记录位置显示的正是被控图片", "warc": "WARC 记录的网址与内容与被控图片一致"}


def verify_lines(rep: PackReport, lang: str) -> list[str]:
    """`evidence verify` as text (rich markup): each check, then each fact with its level and reason.
    In Chinese every word of the UI is Chinese (names, hashes and codes aside); a failure also shows the
    English detail, the tool's own record of what broke."""
    from inkseal.evidence.drafts import FACT_NAMES, fact_detail
    from inkseal.evidence.facts import level_name

    zh = lang == "zh"
    lines = []
    for name, (ok, detail) in rep.checks.items():
        if zh:
            text = (CHECK_OK_ZH.get(name) or rep.checks_zh.get(name) or "通过") if ok else \
                f"{rep.checks_zh.get(name) or '未通过'} / {detail}"
            mark = "[green]通过[/green]" if ok else "[red]失败[/red]"
            lines.append(f"{mark} {CHECK_NAMES_ZH.get(name, name)}：{text}")
        else:
            zh_detail = rep.checks_zh.get(name)
            text = f"{detail} / {zh_detail}" if not ok and zh_detail else detail
            lines.append(f"{'[green]PASS[/green]' if ok else '[red]FAIL[/red]'} {name}: {text}")
    for f in rep.facts:
        level = f["level"]
        holds = f["verified"] if level == "verifiable" else f.get("consistent")
        if level in ("verifiable", "supported") and not holds:
            mark = f"[red]失败（{level_name(level, lang)}）[/red]" if zh else f"[red]FAIL ({level_name(level, lang)})[/red]"
        else:
            colour = {"verifiable": "green", "supported": "yellow", "missing": "red"}.get(level, "dim")
            mark = f"[{colour}]{level_name(level, lang)}[/{colour}]"
        name = FACT_NAMES.get(f.get("fact"), (str(f.get("fact")), str(f.get("fact"))))[1 if zh else 0]
        reason = (f.get("reason_zh") if zh else f.get("reason")) or ""
        detail = fact_detail(f, lang) if "detail" in f else ""
        if zh:
            lines.append(f"{mark} 事实「{name}」：{detail}" + (f"（{reason}）" if reason else ""))
        else:
            lines.append(f"{mark} fact {f.get('fact')}: {detail}" + (f" - {reason}" if reason else ""))
    return lines
