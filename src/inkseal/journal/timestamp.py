"""Optional RFC 3161 trusted timestamps for journal checkpoints (rfc3161-client).

`request_timestamp` asks a Time-Stamping Authority over HTTP for a token over the checkpoint's
signed text and returns the DER response, which is stored with the checkpoint. `check_timestamp`
re-reads the token offline: the imprint must be the SHA-256 of the checkpoint text, and it
reports the TSA's time. Full chain validation needs the TSA's root certificate: pass it in
INKSEAL_TSA_ROOTS (PEM file) and the token is verified against it too.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx

from inkseal.errors import InksealError
from inkseal.journal.log import CheckpointRecord, checkpoint_message


def request_timestamp(tsa_url: str, message: bytes, timeout_s: float = 20.0) -> bytes:
    from rfc3161_client import TimestampRequestBuilder, decode_timestamp_response

    req = TimestampRequestBuilder().data(message).nonce(nonce=True).cert_request(cert_request=True).build()
    try:
        resp = httpx.post(tsa_url, content=req.as_bytes(), timeout=timeout_s,
                          headers={"Content-Type": "application/timestamp-query"})
    except httpx.HTTPError as exc:
        raise InksealError(f"timestamp authority unreachable: {exc}") from None
    if resp.status_code != 200:
        raise InksealError(f"timestamp authority answered HTTP {resp.status_code}")
    try:
        decoded = decode_timestamp_response(resp.content)
    except Exception as exc:
        raise InksealError(f"timestamp authority sent an unreadable response: {exc}") from None
    if decoded.status != 0:
        raise InksealError(f"timestamp authority refused: status {decoded.status}")
    return resp.content


def check_timestamp(cp: CheckpointRecord) -> dict[str, Any]:
    from rfc3161_client import decode_timestamp_response

    out: dict[str, Any] = {"checkpoint_size": cp.size, "tsa_url": cp.tsa_url}
    try:
        resp = decode_timestamp_response(cp.timestamp_token or b"")
        info = resp.tst_info
        message = checkpoint_message(cp.size, cp.root_hash, cp.signed_at, cp.key_id)
        out["time"] = info.gen_time.isoformat()
        algo = getattr(info.message_imprint.hash_algorithm, "_name", None) or str(info.message_imprint.hash_algorithm)
        digest = hashlib.sha256 if "sha256" in algo else hashlib.sha384 if "sha384" in algo else hashlib.sha512
        out["hash"] = digest().name
        out["imprint_ok"] = bytes(info.message_imprint.message) == digest(message).digest()
        roots = os.environ.get("INKSEAL_TSA_ROOTS")
        if roots and Path(roots).exists():
            from cryptography import x509
            from rfc3161_client import VerifierBuilder

            builder = VerifierBuilder()
            for cert in x509.load_pem_x509_certificates(Path(roots).read_bytes()):
                builder = builder.add_root_certificate(cert)
            builder.build().verify_message(resp, message)
            out["chain_ok"] = True
        out["ok"] = bool(out["imprint_ok"])
    except Exception as exc:
        out.update({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    return out
