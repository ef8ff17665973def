"""A case's drafts (takedown notice, demand letter; Chinese and English) on its page.

The drafts are filled from a signed pack's evidence.json (`evidence.drafts.render_drafts`), so nothing in
them says more than the evidence does; building one needs the passphrase. The page therefore shows the
drafts of the case's newest finished pack job (read from its zip, as written), and offers to build one (the
API's `pack_job`, followed on the job page) when there is none yet."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from inkseal.errors import InksealError
from inkseal.registry.jobs import JobView
from inkseal.web import api, api_jobs
from inkseal.web.api_jobs import PackRequest
from inkseal.web.jobs import pack_path, queue_of
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, lang_of, scope_of
from inkseal.web.pages_text import text
from inkseal.web.scope import UserScope

router = APIRouter(include_in_schema=False)
DRAFT_KINDS = ("takedown", "demand")
MAX_DRAFT_BYTES = 1 << 20  # a draft is a page of text: anything larger is not one of ours


def case_pack_jobs(request: Request, scope: UserScope, case_id: int) -> list[JobView]:
    """The finished pack jobs of a case, oldest first."""
    jobs = queue_of(request.app).store.list(scope.user.id, limit=10_000)
    return [j for j in jobs if j.kind == "pack" and j.state == "done" and j.params.get("case_id") == case_id]


def _drafts_in(z: zipfile.ZipFile) -> dict[str, str]:
    """drafts/KIND.LANG.txt of a pack (a `both` pack holds one pack zip per language: read the first)."""
    out: dict[str, str] = {}
    for info in z.infolist():
        path = PurePosixPath(info.filename)
        if path.suffix == ".zip" and not out and info.file_size < 512 * MAX_DRAFT_BYTES:
            with zipfile.ZipFile(io.BytesIO(z.read(info))) as inner:
                out = _drafts_in(inner)
        elif path.parent.name == "drafts" and path.suffix == ".txt" and info.file_size <= MAX_DRAFT_BYTES:
            out[path.stem] = z.read(info).decode("utf-8", errors="replace")  # "takedown.zh"
    return out


def case_drafts(request: Request, packs: list[JobView]) -> dict | None:
    """{"job": id, "built": when, "drafts": [{kind, lang, text}]} of the newest of `packs`, or None."""
    if not packs:
        return None
    job = packs[-1]
    path = pack_path(queue_of(request.app), job.id)
    if not path.exists():
        return None
    with zipfile.ZipFile(path) as z:
        found = _drafts_in(z)
    drafts = [{"kind": kind, "lang": lang, "text": found[f"{kind}.{lang}"]}
              for kind in DRAFT_KINDS for lang in ("zh", "en") if f"{kind}.{lang}" in found]
    return {"job": job.id, "built": job.finished_at, "for": job.params.get("for"), "drafts": drafts}


@router.post("/cases/{case_id}/drafts")
def build_drafts(request: Request, user: PageUser, case_id: api.Id,
                 passphrase: Annotated[str, Form(max_length=1000)] = "",
                 audience: Annotated[Literal["court", "platform"], Form()] = "court") -> Response:
    """The API's pack job (Chinese pack; the drafts come in both languages either way); the job page
    follows it and links back to the case, which then shows the drafts."""
    from inkseal.web.pages_matches import case_page_response  # here: pages_matches imports this module

    scope = scope_of(request, user)
    scope.case(case_id)  # another user's case: 404 before anything else
    try:
        if len(passphrase) < 1:
            raise ApiError(422, {"en": "enter your key passphrase", "zh": "请输入密钥口令"})
        scope.signing_author().keys.private(passphrase)  # a wrong passphrase: said now, not in a failed job
        answer = api_jobs.pack_job(scope=scope, request=request, case_id=case_id,
                                   body=PackRequest(passphrase=passphrase, lang="zh", **{"for": audience}))
    except ApiError as exc:
        if exc.status == 404:
            raise
        reason = exc.error.get(lang_of(request), exc.error["en"])
        return case_page_response(request, user, case_id, text("drafts_failed", lang_of(request), reason=reason), 422)
    except (InksealError, ValueError) as exc:  # the key store's refusal (wrong passphrase) is one line
        return case_page_response(request, user, case_id, text("drafts_failed", lang_of(request), reason=str(exc)), 422)
    return RedirectResponse(f"/jobs/{json.loads(bytes(answer.body))['job_id']}", status_code=303)
