"""The API's key routes (on `inkseal.web.api.router`): each account's own signing keys.

    POST /api/v1/keys    create your keys (journal Ed25519 key, C2PA signer, watermark key) -> 201
    GET  /api/v1/keys    your key id, public key and certificate subject (never private material)
    GET  /api/v1/journal/verify   your journal checked (like `inkseal journal verify`)
    GET  /api/v1/journal/export   your journal as one file (like `inkseal journal export`), for
                                  `inkseal journal verify FILE` anywhere

The passphrase comes in the body and is never stored: it encrypts the private keys at rest, as
`inkseal keys init` does. Keys live in `$HOME/accounts/<id>/keys/` and the journal they sign is the
account's own chain in the registry (the local user of a one-user install: `$HOME/keys` and the
install's chain, the CLI's), see `Inkseal.author`.
"""

from __future__ import annotations

import threading

from fastapi import Response
from pydantic import BaseModel, Field, field_validator

from inkseal.journal.keys import KeyError_
from inkseal.web.api import Scope, answer, router
from inkseal.web.messages import ApiError, message, split_reason

_CREATING = threading.Lock()  # two requests creating keys at once: one makes them, the other is told they exist


class KeysRequest(BaseModel):
    passphrase: str = Field(min_length=8, max_length=1000, description="Encrypts your private keys (never stored).")
    creator: str | None = Field(None, min_length=1, max_length=200,
                                description="Name in your C2PA certificate (default: your account name).")

    @field_validator("passphrase", "creator")
    @classmethod
    def _no_controls(cls, v: str | None) -> str | None:
        if v is not None and any(ord(c) < 32 for c in v):
            raise ValueError("contains control characters")
        return v


@router.post("/keys", status_code=201, summary="Create your signing keys (like `inkseal keys init`)")
def create_keys(scope: Scope, body: KeysRequest) -> Response:
    keys = scope.keys
    with _CREATING:
        if keys.exists():
            raise ApiError(409, message("keys_exist", kid=keys.key_id()[:16]))
        try:
            keys.init(body.passphrase, creator=body.creator or scope.user.name)
        except KeyError_ as exc:
            raise ApiError(422, split_reason(str(exc))) from None
    return answer(keys.describe(), 201)


@router.get("/keys", summary="Your signing keys: key id, public key, certificate subject")
def get_keys(scope: Scope) -> Response:
    keys = scope.keys
    if not keys.exists():
        raise ApiError(404, message("no_keys"))
    return answer(keys.describe())


@router.get("/journal/verify", summary="Check your journal: entries, checkpoints, one chain of your keys")
def verify_journal(scope: Scope) -> Response:
    return answer(scope.author.journal.verify().as_dict())


@router.get("/journal/export", summary="Your whole journal as one JSON-lines file (verify it with "
            "`inkseal journal verify FILE`)", response_class=Response)
def export_journal(scope: Scope) -> Response:
    return Response(scope.author.journal.bundle().to_jsonl(), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="journal.jsonl"'})
