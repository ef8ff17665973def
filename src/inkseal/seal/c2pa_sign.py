"""C2PA Content Credentials for sealed files (c2pa-python), and their validation.

The manifest says what the creator's tool did and what may be done with the picture:
    c2pa.actions         c2pa.created, digitalSourceType trainedAlgorithmicMedia, softwareAgent
    cawg.training-mining ai_generative_training / ai_training / ai_inference / data_mining: notAllowed
    c2pa.soft-binding    names the invisible watermark that survives where the manifest does not
    org.inkseal.journal  the journal checkpoint (size, root, key id) the work's history is sealed under
Signing is the last step: any later change to the file's bytes invalidates the manifest.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from inkseal import __version__
from inkseal.seal.xmp import TRAINED_ALGORITHMIC_MEDIA
from inkseal.errors import one_line

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
TRAINING_USES = ("cawg.ai_generative_training", "cawg.ai_training", "cawg.ai_inference", "cawg.data_mining")


@dataclass
class ManifestInput:
    title: str
    software_agent: str
    training_use: str = "notAllowed"  # or "allowed" / "constrained"
    soft_binding: dict[str, Any] | None = None  # {"alg": ..., "value": ...} of our watermark
    journal_checkpoint: dict[str, Any] | None = None


def manifest_definition(m: ManifestInput) -> dict[str, Any]:
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": m.software_agent}}]}},
        {"label": "cawg.training-mining", "data": {"entries": {u: {"use": m.training_use} for u in TRAINING_USES}}},
    ]
    if m.soft_binding:
        assertions.append({"label": "c2pa.soft-binding", "data": {
            "alg": m.soft_binding["alg"], "blocks": [{"scope": {}, "value": m.soft_binding["value"]}]}})
    if m.journal_checkpoint:
        assertions.append({"label": "org.inkseal.journal", "data": m.journal_checkpoint})
    return {"claim_generator_info": [{"name": "inkseal", "version": __version__}], "title": m.title,
            "assertions": assertions}


def sign(data: bytes, fmt: str, manifest: ManifestInput, chain_pem: bytes, key_pem: bytes) -> bytes:
    """Return `data` with a signed C2PA manifest embedded (ES256, no thumbnail, offline)."""
    import c2pa

    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain_pem, key_pem, None))
    # The default thumbnail adds ~120 KB per file and shows nothing a court needs.
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    builder = c2pa.Builder(manifest_definition(manifest), context=context)
    out = io.BytesIO()
    builder.sign(signer, MIME[fmt.upper()], io.BytesIO(data), out)
    return out.getvalue()


def validate(data: bytes, fmt: str, anchors_pem: bytes | None = None) -> dict[str, Any]:
    """Validation state ('Trusted' needs the anchors), status codes and the active manifest."""
    import c2pa

    config: dict[str, Any] = {}
    if anchors_pem:
        config["trust"] = {"user_anchors": anchors_pem.decode()}
    try:
        ctx = c2pa.Context.from_dict(config) if config else None
        reader = c2pa.Reader(MIME.get(fmt.upper(), "image/png"), io.BytesIO(data), context=ctx) if ctx \
            else c2pa.Reader(MIME.get(fmt.upper(), "image/png"), io.BytesIO(data))
        with reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return {"state": "Absent" if "not found" in str(exc).lower() or "ManifestNotFound" in repr(exc) else "Invalid",
                "error": one_line(exc)}
    active = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active, {})
    codes = [s.get("code") for s in store.get("validation_status") or []]
    state = store.get("validation_state") or ("Invalid" if codes else "Valid")
    return {"state": state, "codes": codes, "manifest": manifest,
            "assertions": {a.get("label"): a.get("data") for a in manifest.get("assertions") or []}}
