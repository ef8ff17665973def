"""Seal a work from the desk: the form, a live preview of where the signature and the AI label go, and the
seal job (`POST /api/v1/works/{id}/seal`'s route function), followed on the job page.

The preview draws with the sealer's own call (`seal.service.draw_visible`: signature, then AI label, on the
version `sealed_source` picks, as `seal_work` does) and stops before
anything that needs the key (watermark, XMP, C2PA): no second layout, no signing."""

from __future__ import annotations

import io
import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from PIL import Image
from pydantic import ValidationError

from inkseal.errors import InksealError
from inkseal.imaging import load_image
from inkseal.seal.service import SealOptions, draw_visible, sealed_source
from inkseal.seal.signature import CORNERS
from inkseal.web import api, api_jobs
from inkseal.web.api_jobs import SealRequest
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, lang_of, render, scope_of
from inkseal.web.pages_text import text
from inkseal.web.pages_works import thumb_url
from inkseal.web.scope import UserScope

router = APIRouter(include_in_schema=False)
PREVIEW_SIDE = 768  # the preview's longer side: enough to judge placement, quick to redraw while typing
LABEL_CORNER = SealOptions.label_corner  # where the sealer puts the label when nobody says


def seal_request(fields: dict[str, Any], passphrase: str) -> SealRequest:
    """The API's own model, so the page takes exactly what the seal job takes, with the same bounds."""
    known = {k: v for k, v in fields.items() if k in SealRequest.model_fields and v is not None}
    return SealRequest(**known, passphrase=passphrase)


def seal_options(req: SealRequest) -> SealOptions:
    """What the seal job hands the sealer (`api_jobs.seal_job`: the body less passphrase and format)."""
    return SealOptions(**req.model_dump(exclude={"passphrase", "format"}))


def preview_png(scope: UserScope, work_id: int, opts: SealOptions) -> bytes:
    """The version `seal_work` seals, scaled down, then signed and labelled by the sealer's functions (their
    sizes are shares of the shorter side, so the placement is the sealed file's). ValueError: a label
    text the sealer would refuse (GB 45438-2025 wording)."""
    source = sealed_source(scope.work(work_id))
    img = load_image(scope.ink.registry.objects.get(source.sha256), max_pixels=scope.ink.settings.max_pixels)
    small = Image.fromarray(img.rgb)
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    rgb, _regions, _warnings = draw_visible(np.asarray(small.convert("RGB")), opts)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def _error_line(exc: Exception, lang: str) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return text("seal_bad_field", lang, reason="; ".join(parts))
    return text("seal_bad_field", lang, reason=str(exc))


def _form_values(work_user_name: str, values: dict[str, Any] | None) -> dict[str, Any]:
    defaults = {k: f.default for k, f in SealRequest.model_fields.items() if k != "passphrase"}
    defaults["signature"] = work_user_name
    defaults["label_corner"] = LABEL_CORNER
    return defaults | (values or {})


def seal_page_response(request: Request, user: PageUser, work_id: int, values: dict[str, Any] | None = None,
                       error: str | None = None, status_code: int = 200) -> HTMLResponse:
    scope = scope_of(request, user)
    work = scope.work(work_id)
    form = _form_values(work.author.name, values)
    query = {k: ("1" if v is True else "0" if v is False else v) for k, v in form.items()
             if k in ("signature", "corner", "signature_size", "signature_opacity", "ai_label", "label_text",
                      "label_corner")}
    return render(request, "seal.html.j2", user, status_code, work=work, form=form, corners=CORNERS,
                  preview_query=query, error=error, thumb_url=thumb_url)


@router.get("/works/{work_id}/seal")
def seal_page(request: Request, user: PageUser, work_id: api.Id,
              signature: Annotated[str | None, Query(max_length=200)] = None,
              corner: Annotated[str | None, Query(max_length=20)] = None,
              signature_size: Annotated[float | None, Query()] = None,
              signature_opacity: Annotated[float | None, Query()] = None,
              ai_label: Annotated[str | None, Query(max_length=5)] = None,
              label_text: Annotated[str | None, Query(max_length=50)] = None,
              label_corner: Annotated[str | None, Query(max_length=20)] = None) -> HTMLResponse:
    """The form; its "Preview" button (no JS) comes back here with the fields in the query."""
    values = {k: v for k, v in {"signature": signature, "corner": corner, "signature_size": signature_size,
                                "signature_opacity": signature_opacity, "label_text": label_text,
                                "label_corner": label_corner}.items()
              if v is not None}
    if signature is not None:  # a submitted form: an unticked box sends nothing
        values["ai_label"] = ai_label in ("1", "on", "true")
    return seal_page_response(request, user, work_id, values)


@router.get("/works/{work_id}/seal/preview.png")
def seal_preview(request: Request, user: PageUser, work_id: api.Id,
                 signature: Annotated[str, Query(max_length=200)] = "",
                 corner: Annotated[str, Query(max_length=20)] = "bottom-right",
                 signature_size: Annotated[float, Query()] = 0.06,
                 signature_opacity: Annotated[float, Query()] = 0.85,
                 ai_label: Annotated[str, Query(max_length=5)] = "1",
                 label_text: Annotated[str, Query(max_length=50)] = "AI生成",
                 label_corner: Annotated[str, Query(max_length=20)] = LABEL_CORNER) -> Response:
    """The work's picture with the signature and the label where sealing will put them (PNG)."""
    scope = scope_of(request, user)
    lang = lang_of(request)
    fields = {"signature": signature or scope.work(work_id).author.name, "corner": corner,
              "signature_size": signature_size, "signature_opacity": signature_opacity,
              "ai_label": ai_label in ("1", "on", "true"), "label_text": label_text, "label_corner": label_corner}
    try:
        opts = seal_options(seal_request(fields, passphrase="-"))  # the passphrase is not used by a preview
        png = preview_png(scope, work_id, opts)
    except (ValidationError, ValueError) as exc:
        line = _error_line(exc, lang)
        return Response(json.dumps({"error": line}, ensure_ascii=False), status_code=422,
                        media_type="application/json")
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


@router.post("/works/{work_id}/seal")
def seal_form(request: Request, user: PageUser, work_id: api.Id,
              passphrase: Annotated[str, Form(max_length=1000)] = "",
              signature: Annotated[str, Form(max_length=200)] = "",
              corner: Annotated[str, Form(max_length=20)] = "bottom-right",
              signature_size: Annotated[float, Form()] = 0.06,
              signature_opacity: Annotated[float, Form()] = 0.85,
              ai_label: Annotated[str, Form(max_length=5)] = "",
              label_text: Annotated[str, Form(max_length=50)] = "AI生成",
              format: Annotated[str, Form(max_length=5)] = "png") -> Response:
    """Checks what can be checked at once (fields, label wording, passphrase), then the API's seal job;
    the job page follows it."""
    scope = scope_of(request, user)
    lang = lang_of(request)
    values = {"signature": signature, "corner": corner, "signature_size": signature_size,
              "signature_opacity": signature_opacity, "ai_label": ai_label in ("1", "on", "true"),
              "label_text": label_text, "format": format}
    try:
        body = seal_request(values, passphrase)
        preview_png(scope, work_id, seal_options(body))  # a label the sealer refuses: said now, not in the job
    except (ValidationError, ValueError) as exc:
        return seal_page_response(request, user, work_id, values, _error_line(exc, lang), 422)
    try:
        scope.signing_author().keys.private(passphrase)  # no key yet / wrong passphrase: said before the job
    except ApiError as exc:
        reason = exc.error.get(lang, exc.error["en"])
        return seal_page_response(request, user, work_id, values, text("seal_failed", lang, reason=reason), 422)
    except (InksealError, ValueError) as exc:  # the key store's refusals are one line
        return seal_page_response(request, user, work_id, values, text("seal_failed", lang, reason=str(exc)), 422)
    answer = api_jobs.seal_job(scope=scope, request=request, work_id=work_id, body=body)
    job_id = json.loads(bytes(answer.body))["job_id"]
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
