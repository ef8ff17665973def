"""C2PA Content Credentials for sealed files (c2pa-python), and their validation.

The manifest says what the creator's tool did and what may be done with the picture:
    c2pa.actions         c2pa.created, digitalSourceType trainedAlgorithmicMedia, softwareAgent
    cawg.training-mining ai_generative_training / ai_training / ai_inference / data_mining: notAllowed
    c2pa.soft-binding    names an invisible watermark that survives where the manifest does not (one assertion
                         per mark: the keyed inkseal-wm/1 and the keyless blind v2 both may be named)
    org.inkseal.journal  the journal checkpoint (size, root, key id) the work's history is sealed under
Signing is the last step: any later change to the file's bytes invalidates the manifest.

`sign_with_manifest` also gives back the active manifest's label (urn:c2pa:...) and the manifest store's
bytes (application/c2pa): what a soft-binding resolution service (registry/bindings.py) serves for a copy
whose metadata was stripped.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
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
    soft_binding: dict[str, Any] | None = None  # {"alg": ..., "value": ...} of our watermark (older callers)
    journal_checkpoint: dict[str, Any] | None = None
    soft_bindings: list[dict[str, Any]] = field(default_factory=list)  # more {"alg", "value"}, one assertion each

    def all_soft_bindings(self) -> list[dict[str, Any]]:
        return ([self.soft_binding] if self.soft_binding else []) + list(self.soft_bindings)


@dataclass(frozen=True)
class SignedFile:
    data: bytes            # the file with the manifest store embedded
    manifest_label: str    # the active manifest's label, "urn:c2pa:<uuid>": the manifestId a resolver answers
    manifest_bytes: bytes  # the manifest store alone (JUMBF, application/c2pa), as embedded in `data`


def manifest_definition(m: ManifestInput) -> dict[str, Any]:
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": m.software_agent}}]}},
        {"label": "cawg.training-mining", "data": {"entries": {u: {"use": m.training_use} for u in TRAINING_USES}}},
    ]
    for binding in m.all_soft_bindings():
        assertions.append({"label": "c2pa.soft-binding", "data": {
            "alg": binding["alg"], "blocks": [{"scope": {}, "value": binding["value"]}]}})
    if m.journal_checkpoint:
        assertions.append({"label": "org.inkseal.journal", "data": m.journal_checkpoint})
    return {"claim_generator_info": [{"name": "inkseal", "version": __version__}], "title": m.title,
            "assertions": assertions}


def sign(data: bytes, fmt: str, manifest: ManifestInput, chain_pem: bytes, key_pem: bytes) -> bytes:
    """Return `data` with a signed C2PA manifest embedded (ES256, no thumbnail, offline)."""
    return sign_with_manifest(data, fmt, manifest, chain_pem, key_pem).data


def sign_with_manifest(data: bytes, fmt: str, manifest: ManifestInput, chain_pem: bytes, key_pem: bytes
                       ) -> SignedFile:
    """As `sign`, and also the active manifest's label and the manifest store's bytes."""
    import c2pa

    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain_pem, key_pem, None))
    # The default thumbnail adds ~120 KB per file and shows nothing a court needs.
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    builder = c2pa.Builder(manifest_definition(manifest), context=context)
    out = io.BytesIO()
    store = builder.sign(signer, MIME[fmt.upper()], io.BytesIO(data), out)  # the embedded store's bytes
    # Its label is inside the store (a JUMBF box label); reading the store alone is the SDK's way to it.
    with c2pa.Reader("application/c2pa", io.BytesIO(store)) as reader:
        label = json.loads(reader.json()).get("active_manifest")
    if not label:
        raise ValueError("the C2PA SDK gave back a manifest store without an active manifest")
    return SignedFile(out.getvalue(), str(label), bytes(store))


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
