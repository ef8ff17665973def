"""Images carrying C2PA Content Credentials (ChatGPT, Gemini, Adobe Firefly, our own seal).

Read offline with c2pa-python: the active manifest's claim generator, the actions (c2pa.created
with its digitalSourceType, edits), the signer (certificate issuer and time) and the validation
state. Such images usually carry no prompt: what they prove is which service made them, and when.
"""

from __future__ import annotations

import io
import json
from typing import Any

from inkseal.journal.importers.base import Generation
from inkseal.journal.metadata import RawMetadata

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "AVIF": "image/avif", "TIFF": "image/tiff"}


def read_manifest_store(data: bytes, fmt: str, trust_anchors_pem: str | None = None) -> dict[str, Any] | None:
    import c2pa

    context = None
    if trust_anchors_pem:
        context = c2pa.Context.from_dict({"trust": {"user_anchors": trust_anchors_pem}})
    try:
        reader = c2pa.Reader(MIME.get(fmt, "image/png"), io.BytesIO(data), context=context) if context \
            else c2pa.Reader(MIME.get(fmt, "image/png"), io.BytesIO(data))
        with reader:
            return json.loads(reader.json())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "not found" in str(exc).lower():
            return None
        raise


def summarise(store: dict[str, Any]) -> dict[str, Any]:
    active = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active, {}) if active else {}
    actions, source_types = [], []
    for a in manifest.get("assertions") or []:
        if a.get("label", "").startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions") or []:
                actions.append(act.get("action"))
                if act.get("digitalSourceType"):
                    source_types.append(act["digitalSourceType"])
    gen_info = manifest.get("claim_generator_info") or []
    generator = manifest.get("claim_generator") or (gen_info[0].get("name") if gen_info else None)
    sig = manifest.get("signature_info") or {}
    return {
        "claim_generator": generator,
        "claim_generator_info": gen_info,
        "title": manifest.get("title"),
        "actions": actions,
        "digital_source_type": source_types[0] if source_types else None,
        "signer": sig.get("issuer") or sig.get("common_name"),
        "signed_time": sig.get("time"),
        "validation_state": store.get("validation_state"),
        "validation_status": [s.get("code") for s in store.get("validation_status") or []],
        "assertions": [a.get("label") for a in manifest.get("assertions") or []],
    }


def import_c2pa(meta: RawMetadata) -> list[Generation]:
    if not meta.has_c2pa or meta.raw is None:
        return []
    store = read_manifest_store(meta.raw, meta.format)
    if not store:
        return []
    info = summarise(store)
    g = Generation(tool=f"C2PA: {info['claim_generator'] or 'unknown generator'}", where="C2PA manifest",
                   source_key="c2pa")
    g.extra = {"c2pa": info}
    return [g]
