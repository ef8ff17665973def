"""The account's signing keys, from the desk: see them (key id, public key, certificate subject) or create them.

A thin page over the API's key routes (`api_keys.create_keys` / `get_keys`): on a shared desk each account
signs its seals, packs and journal with its own keys, and must make them before the first seal. The
passphrase is posted once, encrypts the private keys at rest and is never stored (as `inkseal keys init`).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from inkseal.web import api_keys
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, lang_of, render, scope_of
from inkseal.web.pages_text import text

router = APIRouter(include_in_schema=False)


def _described(request: Request, user: PageUser) -> dict | None:
    try:
        return json.loads(bytes(api_keys.get_keys(scope=scope_of(request, user)).body))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


@router.get("/keys")
def keys_page(request: Request, user: PageUser) -> HTMLResponse:
    return render(request, "keys.html.j2", user, keys=_described(request, user), error=None)


@router.post("/keys")
def create_keys_form(request: Request, user: PageUser, passphrase: Annotated[str, Form()] = "",
                     again: Annotated[str, Form()] = "") -> Response:
    lang = lang_of(request)
    if passphrase != again:
        error = text("keys_mismatch", lang)
    else:
        try:
            api_keys.create_keys(scope=scope_of(request, user),
                                 body=api_keys.KeysRequest(passphrase=passphrase))
            return RedirectResponse("/keys", status_code=303)
        except ValidationError:
            error = text("keys_weak", lang)
        except ApiError as exc:
            error = exc.error.get(lang) or exc.error["en"]
    return render(request, "keys.html.j2", user, 422, keys=_described(request, user), error=error)
