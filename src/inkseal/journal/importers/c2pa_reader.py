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
    actions, source_types, agents, action_details = [], [], [], []
    for a in manifest.get("assertions") or []:
        if a.get("label", "").startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions") or []:
                actions.append(act.get("action"))
                if act.get("digitalSourceType"):
                    source_types.append(act["digitalSourceType"])
                agent = act.get("softwareAgent")
                name = agent.get("name") if isinstance(agent, dict) else agent
                if name:
                    agents.append(str(name))
                action_details.append({k: act.get(k) for k in ("action", "digitalSourceType", "softwareAgent",
                                                                "when", "description", "parameters") if act.get(k)})
    ingredients = [{"title": i.get("title"), "relationship": i.get("relationship"), "format": i.get("format"),
                    "digital_source_type": (i.get("data_types") or [{}])[0].get("type") if i.get("data_types") else None}
                   for i in manifest.get("ingredients") or [] if isinstance(i, dict)]
    gen_info = manifest.get("claim_generator_info") or []
    generator = manifest.get("claim_generator") or (gen_info[0].get("name") if gen_info else None)
    sig = manifest.get("signature_info") or {}
    return {
        "claim_generator": generator,
        "claim_generator_info": gen_info,
        "title": manifest.get("title"),
        "actions": actions,
        "digital_source_type": source_types[0] if source_types else None,
        "software_agents": agents,
        "action_details": action_details,
        "ingredients": ingredients,
        "generator_version": next((str(i.get("version")) for i in gen_info if isinstance(i, dict) and i.get("version")),
                                  None),
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
    g = Generation(tool=service_name(info), where="C2PA manifest", source_key="c2pa")
    g.version = info.get("generator_version")
    g.model = info["software_agents"][0] if info["software_agents"] else None
    g.extra = {"c2pa": info}
    return [g]


# Which service signed: ChatGPT / DALL-E, Gemini / Imagen and Firefly name themselves differently in the
# claim generator (OpenAI's API name, Google's library name) and in the created action's softwareAgent.
SERVICES = (("ChatGPT / DALL·E (C2PA)", ("openai", "chatgpt", "dall")),
            ("Gemini / Imagen (C2PA)", ("google", "gemini", "imagen")),
            ("Adobe Firefly (C2PA)", ("firefly", "adobe")),
            ("Microsoft Designer / Bing (C2PA)", ("microsoft", "bing", "designer")))


def service_name(info: dict[str, Any]) -> str:
    names = " ".join(str(x) for x in [info.get("claim_generator"), *info.get("software_agents", []),
                                      *[i.get("name") for i in info.get("claim_generator_info") or []
                                        if isinstance(i, dict)]] if x).lower()
    for label, words in SERVICES:
        if any(w in names for w in words):
            return label
    return f"C2PA: {info['claim_generator'] or 'unknown generator'}"
