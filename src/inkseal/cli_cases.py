"""`inkseal cases` and `inkseal case show|mark|check`: one row per use of a work at one place.

A case gathers every sighting of the same copy (re-scans, the image reached directly and through its
page); `inkseal matches --history` still lists each sighting. Messages are inline en/zh pairs.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from inkseal.cli import AfterOpt, JsonOpt, LimitOpt, _emit, _fail, _listing, _say, app, out, state
from inkseal.errors import InksealError
from inkseal.registry.models import Case
from inkseal.registry.statuses import CASE_STATUSES, status_name

case_app = typer.Typer(help="Show, decide on or re-check one case (a work used at one place).", no_args_is_help=True)
app.add_typer(case_app, name="case")


def case_dict(c: Case) -> dict:
    return {"id": c.id, "work_id": c.work_id, "work_title": c.work.title, "file_id": c.file_id, "sha256": c.sha256,
            "source_kind": c.source_kind, "page_url": c.page_url, "image_url": c.image_url, "host": c.host,
            "first_seen": c.first_seen, "last_seen": c.last_seen, "times_seen": c.times_seen, "status": c.status,
            "note": c.note, "decided_at": c.decided_at,
            "checks": [{"time": k.checked_at, "result": k.result, "note": k.note} for k in c.checks]}


@app.command("cases")
def cases_cmd(
    status: Annotated[str | None, typer.Option(help=f"Only this status: {', '.join(CASE_STATUSES)}.")] = None,
    work: Annotated[int | None, typer.Option(help="Only this work.")] = None,
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    after: AfterOpt = None,
) -> None:
    """List cases: each use of a work at one place, with first / last seen and times seen (a page at a time)."""
    if status and status not in CASE_STATUSES:
        _fail(_say(f"unknown status {status!r}: use one of {', '.join(CASE_STATUSES)}", f"未知状态 {status!r}"), 2)
    ink = state.app()
    items = _listing(lambda a, n: ink.cases(work_id=work, status=status, after_id=a, limit=n), case_dict,
                     as_json, limit, after)
    if items is None:
        return
    if not items:
        out.print(_say("no cases", "暂无案件"))
        return
    lang = state.language
    table = Table(*(_say("ID Status Work Seen First Last Place", "编号 状态 作品 次数 首次发现 最近发现 位置").split()))
    for col in table.columns[4:6]:
        col.no_wrap = True  # a time is read whole
    for c in items:
        table.add_row(str(c.id), status_name(c.status, lang), f"{c.work_id} {c.work.title}", str(c.times_seen),
                      f"{c.first_seen:%Y-%m-%d %H:%M}", f"{c.last_seen:%Y-%m-%d %H:%M}", c.page_url or c.image_url or "")
    out.print(table)


@case_app.command("show")
def case_show(case_id: int, as_json: JsonOpt = False) -> None:
    """Show one case: its place, status, every decision and re-check, and every sighting."""
    ink = state.app()
    try:
        c = ink.case(case_id)
    except InksealError as exc:
        _fail(str(exc))
    sightings = ink.registry.case_matches(case_id)
    decisions = ink.registry.case_decisions(case_id)
    d = case_dict(c) | {"decisions": [{"time": x.decided_at, "status": x.status, "previous": x.previous,
                                       "note": x.note, "backfilled": x.backfilled} for x in decisions],
                        "matches": [{"id": m.id, "score": round(m.score, 2), "file_id": m.file_id,
                                     "seen_at": m.suspect.captured_at or m.suspect.seen_at, "source": m.suspect.source,
                                     "page_url": m.suspect.page_url, "sha256": m.suspect.sha256} for m in sightings]}
    if as_json:
        _emit(d)
        return
    lang = state.language
    out.print(f"[bold]{_say('case', '案件')} {c.id}[/bold] ({status_name(c.status, lang)}): "
              f"{_say('work', '作品')} {c.work_id} '{c.work.title}'", highlight=False)
    if c.page_url:
        out.print(f"  {_say('page', '网页')} {c.page_url}", highlight=False)
    out.print(f"  {_say('image', '图片')} {c.image_url}", highlight=False)
    out.print(_say(f"  seen {c.times_seen} time(s), first {c.first_seen:%Y-%m-%d %H:%M}, last {c.last_seen:%Y-%m-%d %H:%M} UTC",
                   f"  共发现 {c.times_seen} 次，首次 {c.first_seen:%Y-%m-%d %H:%M}，最近 {c.last_seen:%Y-%m-%d %H:%M}（UTC）"),
              highlight=False)
    if c.note:
        out.print(f"  {_say('note', '备注')}: {c.note}", highlight=False)
    for x in decisions:
        if x.status in ("still_online", "removed"):
            continue  # listed below as a re-check
        out.print(f"  {_say('decision', '处理')} {x.decided_at:%Y-%m-%d %H:%M} UTC: {status_name(x.status, lang)}"
                  + (f" — {x.note}" if x.note else "")
                  + (_say(" (earlier decisions were not kept)", "（更早的处理未保存）") if x.backfilled else ""),
                  highlight=False)
    for k in c.checks:
        out.print(f"  {_say('check', '复查')} {k.checked_at:%Y-%m-%d %H:%M} UTC: {status_name(k.result, lang)}"
                  + (f" — {k.note}" if k.note else ""), highlight=False)
    for m in d["matches"]:
        out.print(f"  {_say('sighting: match', '发现记录：匹配')} {m['id']} {m['seen_at']:%Y-%m-%d %H:%M} "
                  f"{_say('score', '分数')} {m['score']:.1f} {m['source']}", highlight=False)


@case_app.command("mark")
def case_mark(
    case_id: int,
    status: Annotated[str, typer.Argument(help=f"One of: {', '.join(CASE_STATUSES)}.")],
    note: Annotated[str, typer.Option(help="Why, or what was done (notice id, settlement).")] = "",
) -> None:
    """Move a case along: new → confirmed → notice_sent → removed / still_online → settled / closed."""
    try:
        c = state.app().set_case_status(case_id, status, note)
    except (InksealError, ValueError) as exc:
        _fail(str(exc))
    out.print(_say(f"case {c.id}: {status_name(c.status)}", f"案件 {c.id}：{status_name(c.status, 'zh')}"),
              highlight=False)


@case_app.command("check")
def case_check(
    case_id: int,
    still_online: Annotated[bool, typer.Option("--still-online", help="The copy is still there.")] = False,
    removed: Annotated[bool, typer.Option("--removed", help="The copy is gone.")] = False,
    note: Annotated[str, typer.Option(help="How it was checked.")] = "",
) -> None:
    """Record a re-check of the place, with its time: still online, or removed."""
    if still_online == removed:
        _fail(_say("say what the check found: --still-online or --removed", "请指明复查结果：--still-online 或 --removed"), 2)
    try:
        c = state.app().check_case(case_id, "still_online" if still_online else "removed", note)
    except (InksealError, ValueError) as exc:
        _fail(str(exc))
    k = c.checks[-1]
    out.print(_say(f"case {c.id}: {status_name(k.result)} at {k.checked_at:%Y-%m-%d %H:%M} UTC",
                   f"案件 {c.id}：{status_name(k.result, 'zh')}（复查于 {k.checked_at:%Y-%m-%d %H:%M} UTC）"),
              highlight=False)
