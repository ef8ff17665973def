"""The C2PA Soft Binding Resolution API over this registry's soft bindings (registry/bindings.py).

Base URL: /api/v1/c2pa, and /v1 (the spec's own base path). The paths and shapes are the C2PA spec's ("C2PA Soft Binding API", Decoupled.html,
OpenAPI "C2PA Soft Binding Resolution API" 1.0.0; the same shapes as c2pa-rs's client,
sdk/src/soft_binding/resolution_api.rs):

    GET  /matches/byBinding?alg=&value=[&maxResults=]   -> {"matches": [{"manifestId", "similarityScore"}]}
    POST /matches/byBinding[?maxResults=]  {"alg", "value"}                (same answer; for long values)
    GET  /manifests/{manifestId}[?returnActiveManifest=]  -> the manifest store's bytes, application/c2pa
    GET  /services/supportedAlgorithms  -> {"watermarks": [{"alg"}], "fingerprints": []}

`endpoint` is left out of each match: the spec says the manifest is then fetched from this same service.
Matches are exact (the value is the watermark's whole message), so similarityScore is 100.

No sign-in, on purpose: these routes only ever give out a manifest store that is already embedded in the
published file it was signed into, so serving it for that file's watermark discloses nothing the file does
not; the value itself is an opaque 64-bit message (keyed mask + MAC), so it cannot be enumerated; and the
answer names no work, file or account of this desk (only the manifest's own urn:c2pa label). A stranger
holding a stripped copy is exactly who the spec means to serve. For the same reason the answers may be read
by a verifier page of another site (Access-Control-Allow-Origin: *, Cross-Origin-Resource-Policy:
cross-origin): no cookie or token is ever needed, so none is exposed.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from inkseal.registry.bindings import ALGORITHMS, MAX_RESULTS, BadBinding, SoftBindings
from inkseal.web.messages import ApiError, split_reason

routes = APIRouter(tags=["c2pa soft-binding resolution"])
C2PA_MEDIA_TYPE = "application/c2pa"


class BindingQuery(BaseModel):
    alg: str = Field(max_length=200, description="Soft-binding algorithm, e.g. org.inkseal.blind.v2.")
    value: str = Field(max_length=1000, description="The soft binding's value, base64.")


# A route's own headers win over SecurityHeaders' defaults (web/app.py): these two open the answers to
# verifier pages of other sites; the rest of the security headers stay.
PUBLIC = {"access-control-allow-origin": "*", "cross-origin-resource-policy": "cross-origin"}


def _bad(text: str) -> ApiError:
    return ApiError(400, split_reason(text))


def _max_results(raw: str | None) -> int:
    """maxResults as the spec has it (an integer, at least 1); the spec answers 400 to a bad query value."""
    if raw is None:
        return MAX_RESULTS
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()) or int(raw) < 1:  # ASCII digits only: int() takes others
        raise _bad(f"maxResults must be a whole number of at least 1, not {raw[:40]!r} / "
                   "maxResults 须为不小于 1 的整数")
    return min(int(raw), MAX_RESULTS)


def _matches(request: Request, alg: str, value: str, max_results: str | None) -> JSONResponse:
    limit = _max_results(max_results)
    try:
        found = SoftBindings(request.app.state.ink.registry).matches(alg, value, limit)
    except BadBinding as exc:
        raise _bad(str(exc)) from None
    return JSONResponse({"matches": [{"manifestId": m.manifest_label, "similarityScore": 100} for m in found]},
                        headers=PUBLIC)


MaxResults = Annotated[str | None, Query(alias="maxResults", max_length=20,
                                         description="At most this many matches (an integer, at least 1).")]


@routes.get("/matches/byBinding", summary="C2PA manifest identifiers matching a soft binding (C2PA SBR API)")
def matches_by_binding(request: Request,
                       alg: Annotated[str, Query(max_length=200, description="Soft-binding algorithm.")],
                       value: Annotated[str, Query(max_length=1000, description="Base64 value.")],
                       max_results: MaxResults = None) -> JSONResponse:
    return _matches(request, alg, value, max_results)


@routes.post("/matches/byBinding", summary="The same query with the binding in a JSON body (C2PA SBR API)")
def matches_by_binding_post(request: Request, query: BindingQuery, max_results: MaxResults = None) -> JSONResponse:
    return _matches(request, query.alg, query.value, max_results)


@routes.get("/manifests/{manifestId}", summary="The C2PA manifest store of a manifest identifier (C2PA SBR API)",
            responses={200: {"content": {C2PA_MEDIA_TYPE: {}}, "description": "The manifest store."}})
def get_manifest(request: Request, manifestId: str,  # noqa: N803 - the spec's name
                 return_active: Annotated[str | None, Query(
                     alias="returnActiveManifest", max_length=10,
                     description="true: only the active manifest. The stores served here hold exactly one "
                                 "manifest (inkseal signs without ingredients), so both answers are the same "
                                 "bytes.")] = None) -> Response:
    if return_active is not None and return_active.lower() not in ("true", "false"):
        raise _bad("returnActiveManifest must be true or false / returnActiveManifest 须为 true 或 false")
    data = SoftBindings(request.app.state.ink.registry).manifest(manifestId)
    if data is None:
        shown = manifestId[:200].encode("unicode_escape").decode()
        raise ApiError(404, {"en": f"no C2PA manifest {shown}", "zh": f"无 C2PA 清单 {shown}"})
    return Response(content=data, media_type=C2PA_MEDIA_TYPE, headers=PUBLIC)


@routes.get("/services/supportedAlgorithms", summary="Soft-binding algorithms this service resolves (C2PA SBR API)")
def supported_algorithms() -> JSONResponse:
    return JSONResponse({"watermarks": [{"alg": alg} for alg in sorted(ALGORITHMS)], "fingerprints": []},
                        headers=PUBLIC)


# Served twice: under the desk's API (/api/v1/c2pa/...) and at the spec's own base path (/v1/...), so a
# C2PA client given this desk's address finds /v1/matches/byBinding and /v1/manifests/{id} where the spec
# puts them. The second copy stays out of the OpenAPI document (same operations).
router = APIRouter(prefix="/api/v1/c2pa")
router.include_router(routes)
spec_router = APIRouter(prefix="/v1", include_in_schema=False)
spec_router.include_router(routes)
