"""`inkseal evidence verify PACK`: a standalone check that needs no registry and no network.

Checks, each named so that facts can depend on them:
    manifest_signature  MANIFEST.sig is the author's Ed25519 signature over MANIFEST.sha256
    files               every file listed has its hash; nothing unlisted was added
    journal             the journal bundle verifies (entries, signatures, checkpoints, Merkle proofs)
                        and its latest checkpoint is the one evidence.json names
    c2pa                the published file's C2PA manifest validates Trusted with the pack's anchor
    watermark           the watermark decode re-run from the pack's own files gives the recorded result
    screenshot, warc    the page screenshot shows the suspect at its box; the WARC record's payload is
                        the suspect (see inkseal.evidence.capture)
A fact passes when it was proven when the pack was made and all its checks pass now.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inkseal.journal.keys import key_id, load_public, verify_signature
from inkseal.journal.log import Bundle, verify_bundle


@dataclass
class PackReport:
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    facts: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks.values()) and all(f["verified"] for f in self.facts if f["status"] == "proven")

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in self.checks.items()},
                "facts": self.facts}


def verify_pack(path: Path) -> PackReport:
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.filename.startswith("/") or ".." in Path(info.filename).parts:
                        rep = PackReport()
                        rep.checks["files"] = (False, f"unsafe path in archive: {info.filename}")
                        return rep
                z.extractall(tmp)
            return _verify_dir(Path(tmp))
    return _verify_dir(path)


def _verify_dir(root: Path) -> PackReport:
    rep = PackReport()
    c = rep.checks
    try:
        manifest = (root / "MANIFEST.sha256").read_text(encoding="utf-8")
        sig = base64.b64decode((root / "MANIFEST.sig").read_text().strip(), validate=True)
        public = load_public((root / "journal" / "public_key.pem").read_bytes())
        c["manifest_signature"] = (verify_signature(public, sig, manifest.encode()),
                                   f"key {key_id(public)[:16]}…")
    except Exception as exc:  # noqa: BLE001 - any unreadable part is a failed check, named
        c["manifest_signature"] = (False, f"unreadable: {exc}")
        return rep
    tsr = root / "MANIFEST.tsr"
    if tsr.exists():
        c["manifest_timestamp"] = _check_manifest_timestamp(tsr.read_bytes(), manifest.encode())
    listed: dict[str, str] = {}
    bad = []
    for line in manifest.splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
        p = root / name
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            bad.append(name)
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.startswith("MANIFEST.")}
    extra = sorted(present - set(listed))
    c["files"] = (not bad and not extra, f"{len(listed)} files; changed: {', '.join(bad) or 'none'}; "
                                         f"unlisted: {', '.join(extra) or 'none'}")
    try:
        evidence = json.loads((root / "evidence.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        c["evidence"] = (False, f"evidence.json unreadable: {exc}")
        return rep
    c["signer"] = (evidence.get("signer", {}).get("key_id") == key_id(public), "evidence.json names this key")
    files = evidence.get("files", {})

    try:
        bundle = Bundle.from_jsonl((root / files["journal"]).read_text(encoding="utf-8"))
        from inkseal.journal.timestamp import check_timestamp

        jr = verify_bundle(bundle, timestamp_checker=check_timestamp)
        bad_ts = [t for t in jr.timestamps if not t.get("ok")]
        latest = max(bundle.checkpoints, key=lambda cp: cp.size) if bundle.checkpoints else None
        named = (evidence.get("journal") or {}).get("latest_checkpoint") or {}
        same = (latest is None and not named) or (latest is not None and named.get("root_hash") == latest.root_hash
                                                  and named.get("size") == latest.size)
        c["journal"] = (jr.ok and same and not bad_ts, f"{jr.entries} entries, {jr.signed_size} signed, "
                                                       f"{len(jr.timestamps)} timestamp(s); latest checkpoint "
                                        f"{'matches' if same else 'DIFFERS from'} evidence.json"
                        + ("" if jr.ok else f"; {jr.problems[0].message}"))
    except (OSError, ValueError, KeyError) as exc:
        c["journal"] = (False, f"journal unreadable: {exc}")

    if "published" in files and "c2pa_anchor" in files:
        try:
            from inkseal.seal.c2pa_sign import validate

            data = (root / files["published"]).read_bytes()
            fmt = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}.get(files["published"].rsplit(".", 1)[-1], "PNG")
            state = validate(data, fmt, (root / files["c2pa_anchor"]).read_bytes())["state"]
            recorded = evidence.get("published_c2pa_state")
            c["c2pa"] = (state == recorded and state in ("Trusted", "Valid"), f"{state} (recorded {recorded})")
        except Exception as exc:  # noqa: BLE001 - a broken file is a failed check, not a crash
            c["c2pa"] = (False, f"unreadable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")

    if evidence.get("watermark") and "watermark_key" in files:
        try:
            from inkseal.imaging import load_image
            from inkseal.seal import watermark

            key = bytes.fromhex((root / files["watermark_key"]).read_text().strip())
            det = watermark.detect_informed(load_image((root / files["suspect"]).read_bytes()).rgb,
                                            load_image((root / files["watermark_reference"]).read_bytes()).rgb,
                                            np.array(evidence["match"]["scores"]["affine"]), key,
                                            [evidence["work"]["id"]])
            recorded = evidence["watermark"]
            again = det.as_dict()
            c["watermark"] = (again["agreement"] == recorded["agreement"] and det.detected == recorded["detected"],
                              f"{again['agreement']} bits, FPP {again['false_positive_probability']:.1e} "
                              f"(recorded {recorded['agreement']})")
        except Exception as exc:  # noqa: BLE001 - a broken file is a failed check, not a crash
            c["watermark"] = (False, f"cannot re-run the decode: {str(exc).splitlines()[0] if str(exc) else exc}")

    _check_capture(root, evidence, files, c)

    for f in evidence.get("facts", []):
        needed = [*f.get("checks", []), "files", "manifest_signature"]
        verified = all(c.get(k, (False, ""))[0] for k in needed)  # a check that could not run counts as failed
        rep.facts.append({**f, "verified": verified if f["status"] == "proven" else False})
    return rep


def _check_capture(root: Path, evidence: dict, files: dict, c: dict) -> None:
    from inkseal.evidence import capture

    suspect = evidence.get("suspect") or {}
    wanted = (evidence.get("capture") or {}).get("checks") or []
    try:
        if "screenshot" in wanted:
            from inkseal.imaging import load_image

            c["screenshot"] = capture.check_screenshot((root / files["page_screenshot"]).read_bytes(),
                                                       load_image((root / files["suspect"]).read_bytes()).rgb,
                                                       (evidence.get("capture") or {}).get("box"))
        if "warc" in wanted:
            c["warc"] = capture.check_warc((root / files["warc_record"]).read_bytes(), suspect.get("sha256", ""),
                                           suspect.get("source", ""))
    except Exception as exc:  # noqa: BLE001 - a missing or broken file is a failed check, named
        for name in wanted:
            c[name] = (False, f"cannot check: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _check_manifest_timestamp(token: bytes, manifest: bytes) -> tuple[bool, str]:
    """The RFC 3161 token must cover exactly this manifest (chain checked when INKSEAL_TSA_ROOTS is set)."""
    import os

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
