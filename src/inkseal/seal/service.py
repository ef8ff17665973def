"""`inkseal seal`: turn a registered work into its published, sealed file.

Order matters, and is fixed here:
    1. visible signature (name or handle, in a corner; its box is remembered)
    2. explicit AI label "AI生成" (GB 45438-2025: edge or corner, >= 5 % of the shorter side)
    3. invisible marks (seal/marks.py): the blind v2 mark (the creator's blind key; read without the
       original after crops and screenshots) and the per-work inkseal-wm/1   <- pixels final after this
    4. XMP: TC260:AIGC implicit label (ReservedCode1 = our Ed25519 signature over the pixels'
       SHA-256 and the ProduceID), IPTC DigitalSourceType, PLUS DataMining, dc:creator, dc:rights;
       the same label also in the other carriers the TC260 guide allows (PNG tEXt `AIGC`, EXIF
       UserComment for JPEG / WebP), so a platform reading any one of them finds it
    5. C2PA manifest, signed last (actions, training-mining, soft bindings to both marks, journal
       checkpoint link): any later change to the bytes invalidates it. The blind mark's message is
       recorded as the manifest's soft binding in the registry (registry/bindings.py), so a stripped
       copy leads back to this manifest.
The sealed file is registered as the work's published version; the pre-watermark pixels are kept
in the object store so that informed watermark detection can subtract them.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from inkseal.imaging import load_image
from inkseal.registry.bindings import SoftBindings
from inkseal.seal import blindmark, watermark
from inkseal.seal.c2pa_sign import ManifestInput, sign_with_manifest
from inkseal.seal.marks import add_marks
from inkseal.seal.carriers import write_carriers
from inkseal.seal.label import add_ai_label
from inkseal.seal.signature import add_signature
from inkseal.seal.xmp import DMI_PROHIBITED, AIGCLabel, RightsMetadata, build_xmp, encode

if TYPE_CHECKING:
    from inkseal.services import AddFile, SealContext
    from inkseal.journal.keys import KeyStore
    from inkseal.journal.log import CheckpointRecord
    from inkseal.registry.models import Work, WorkFile
    from inkseal.registry.store import Registry

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


@dataclass
class SealOptions:
    signature: str
    corner: str = "bottom-right"
    signature_size: float = 0.06  # text height as a share of the shorter side
    signature_opacity: float = 0.85
    ai_label: bool = True
    label_text: str = "AI生成"
    label_corner: str = "top-left"
    data_mining: str = DMI_PROHIBITED
    training_use: str = "notAllowed"
    software_agent: str = "inkseal"
    rights: str | None = None


@dataclass
class SealResult:
    path: Path
    file_id: int
    regions: dict
    warnings: list[str]


def content_binding(pixels: bytes, produce_id: str) -> bytes:
    return b"inkseal-aigc/v1\n" + produce_id.encode() + b"\n" + hashlib.sha256(pixels).hexdigest().encode() + b"\n"


@dataclass
class SealDeps:
    """What sealing needs, and nothing more: the store, the keys, a way to register the result."""

    registry: Registry
    keys: KeyStore
    add_file: AddFile
    max_pixels: int
    checkpoints: Callable[[], list[CheckpointRecord]]  # the journal's signed tree heads
    after_change: Callable[[], None] = lambda: None  # e.g. re-sync the search indexes

    @classmethod
    def of(cls, app: SealContext) -> SealDeps:
        return cls(app.registry, app.keys, app.add_file, app.settings.max_pixels,
                   lambda: app.journal.bundle().checkpoints, app.sync_indexes)


def seal(app: SealContext, work_id: int, output: Path, opts: SealOptions, passphrase: str) -> SealResult:
    return seal_work(SealDeps.of(app), work_id, output, opts, passphrase)


def sealed_source(work: Work) -> WorkFile:
    """The file of a work that sealing starts from: its original (or its first file)."""
    if not work.files:
        raise ValueError(f"work {work.id} has no file to seal")
    return next((f for f in work.files if f.role == "original"), work.files[0])


def draw_visible(rgb: np.ndarray, opts: SealOptions) -> tuple[np.ndarray, dict, list[str]]:
    """The visible part of a seal: the signature, then the explicit AI label; their boxes and any warning.
    The desk's preview draws with this same call (on a smaller copy: sizes are shares of the shorter side)."""
    warnings: list[str] = []
    rgb, sig_box = add_signature(rgb, opts.signature, opts.corner, height_frac=opts.signature_size,
                                 opacity=opts.signature_opacity)
    regions: dict = {"signature": sig_box}
    if opts.ai_label:
        rgb, label_box = add_ai_label(rgb, opts.label_text, opts.label_corner)
        regions["ai_label"] = label_box
    else:
        warnings.append("explicit AI label turned off: GB 45438-2025 requires it on AI-generated images "
                        "/ 已关闭显式 AI 标识：GB 45438-2025 要求 AI 生成图片带有显式标识")
    return rgb, regions, warnings


def seal_work(deps: SealDeps, work_id: int, output: Path, opts: SealOptions, passphrase: str) -> SealResult:
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise ValueError("the sealed file must be .png, .jpg or .webp")
    work = deps.registry.work(work_id)
    img = load_image(deps.registry.objects.get(sealed_source(work).sha256), max_pixels=deps.max_pixels)
    rgb, regions, warnings = draw_visible(img.rgb, opts)
    pre_png = io.BytesIO()
    Image.fromarray(rgb).save(pre_png, "PNG")
    pre_sha = deps.registry.objects.put(pre_png.getvalue())
    key = deps.keys.watermark_key_for(work_id, passphrase)
    blind_key = deps.keys.blind_key(passphrase)
    marked = add_marks(rgb, key, blind_key, work_id)
    blind_value = blindmark.binding_value(blindmark.message(blind_key, work_id))
    regions["watermark"] = {"alg": watermark.ALG, "work_id": work_id, "reference_sha256": pre_sha,
                            "blind": {"alg": blindmark.ALG, "value": blind_value}}

    private = deps.keys.private(passphrase)
    produce_id = f"inkseal:work:{work_id}"
    encoded = encode(Image.fromarray(marked), fmt)
    final_pixels = load_image(encoded).rgb  # what every decoder will see (JPEG rounds)
    signature = private.sign(content_binding(final_pixels.tobytes(), produce_id))
    label = AIGCLabel(content_producer=work.author.name, produce_id=produce_id,
                      reserved_code1=base64.b64encode(signature).decode())
    rights = opts.rights or f"© {work.author.name}. All rights reserved. 版权所有。"
    xmp = build_xmp(RightsMetadata(label, creator=work.author.name, rights=rights, data_mining=opts.data_mining))
    data = write_carriers(encoded, fmt, xmp=xmp, label=label.as_json())  # pixels untouched: byte splicing

    checkpoints = deps.checkpoints()
    checkpoint = None
    if checkpoints:
        cp = max(checkpoints, key=lambda c: c.size)
        checkpoint = {"size": cp.size, "root_hash": cp.root_hash, "key_id": cp.key_id, "signed_at": cp.signed_at}
    chain, key_pem, _anchor = deps.keys.c2pa_credentials(passphrase)
    codeword = watermark.codeword(key, work_id)
    bindings = [{"alg": blindmark.ALG, "value": blind_value},
                {"alg": watermark.ALG, "value": base64.b64encode(bytes(codeword)).decode()}]
    signed = sign_with_manifest(data, fmt, ManifestInput(title=output.name, software_agent=opts.software_agent,
                                                         training_use=opts.training_use, soft_bindings=bindings,
                                                         journal_checkpoint=checkpoint), chain, key_pem)
    data = signed.data
    output.write_bytes(data)
    sealed = load_image(data, max_pixels=deps.max_pixels)
    wf = deps.add_file(work_id, data, sealed, "published", output.name, regions=regions)
    SoftBindings(deps.registry).add(blindmark.ALG, blind_value, work_id, wf.id, signed.manifest_label,
                                    signed.manifest_bytes)
    deps.after_change()
    return SealResult(output, wf.id, regions, warnings)
