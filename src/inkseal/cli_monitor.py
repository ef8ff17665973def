"""`inkseal monitor ...`: watch sites, feeds and pages for copies (inkseal.monitor).

Cron calls `inkseal monitor run --due`: every monitor whose time has come (and any run left unfinished by
a killed process, which goes on where it stopped). Exit code 1 when something failed (one line each).
"""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table

from inkseal.cli import JsonOpt, _emit, _fail, _progress, app, err, out, state
from inkseal.errors import InksealError

monitor_app = typer.Typer(help="Monitors: find copies on sites, feeds and pages, on a schedule.",
                          no_args_is_help=True)
notify_app = typer.Typer(help="Where run digests go: webhooks (signed) and e-mail.", no_args_is_help=True)
monitor_app.add_typer(notify_app, name="notify")
app.add_typer(monitor_app, name="monitor")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_every(text: str) -> int:
    """'1d', '12h', '30m', '90s', '2w' or plain seconds -> seconds (at least one minute)."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text.lower())
    if not m:
        raise typer.BadParameter(f"{text!r}: use e.g. 1d, 12h, 30m / 请使用如 1d、12h、30m 的格式")
    seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < 60:
        raise typer.BadParameter("at least 1m between runs / 两次运行至少间隔 1 分钟")
    return seconds


def format_every(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def _store():  # type: ignore[no-untyped-def]
    from inkseal.registry.monitors import MonitorStore

    return MonitorStore(state.app().registry)


@monitor_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="The site's start page, the feed's URL, or the page.")],
    kind: Annotated[str, typer.Option("--kind", help="site | feed | page")] = "site",
    every: Annotated[str, typer.Option("--every", help="How often: 1d, 12h, 30m ...")] = "1d",
    max_pages: Annotated[int | None, typer.Option("--max-pages", min=1, help="Pages visited per run at most "
                                                  "(default: monitor setting max_pages).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch a site, a feed or a page."""
    from urllib.parse import urlsplit

    from inkseal.monitor.settings import load_monitor_settings
    from inkseal.registry.monitors import MONITOR_KINDS, as_dict

    if kind not in MONITOR_KINDS:
        _fail(f"--kind is one of {', '.join(MONITOR_KINDS)} / --kind 须为 site、feed 或 page", 2)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _fail(f"a monitor watches an http(s) URL with a host, not {url[:120]!r} / 监控地址须为 http(s) 网址", 2)
    seconds = parse_every(every)
    pages = max_pages or load_monitor_settings(state.app().settings.home).max_pages
    m = _store().add(url, kind, seconds, pages)
    if as_json:
        _emit(as_dict(m))
    else:
        out.print(f"monitor {m.id}: {m.kind} {m.url}, every {every}, up to {pages:,} pages / "
                  f"已添加监控 {m.id}", highlight=False)


@monitor_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The monitors, when each last ran and is due next."""
    from inkseal.registry.monitors import as_dict

    store = _store()
    rows = [as_dict(m) | {"pages": store.page_count(m.id)} for m in store.list()]
    if as_json:
        _emit(rows)
        return
    if not rows:
        out.print("No monitors yet. / 尚无监控。")
        return
    table = Table("id", "kind", "url", "every", "max pages", "pages known", "last run", "next due")
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], r["url"], format_every(r["every_s"]), f"{r['max_pages']:,}",
                      f"{r['pages']:,}", str(r["last_run_at"] or "-")[:19], str(r["next_due_at"])[:19])
    out.print(table)


@monitor_app.command("remove")
def remove(monitor_id: Annotated[int, typer.Argument(help="Monitor to remove.")]) -> None:
    """Stop watching (its page history goes; cases and matches found stay)."""
    try:
        _store().remove(monitor_id)
    except InksealError as exc:
        _fail(str(exc))
    out.print(f"Removed monitor {monitor_id}. / 已删除监控 {monitor_id}。")


@monitor_app.command("run")
def run(
    monitor_id: Annotated[int | None, typer.Argument(help="Run this monitor (default: all, or --due).")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only monitors whose time has come (what cron calls).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run monitors now: discover pages, fetch the new or changed ones, scan them, send one digest."""
    from inkseal.monitor.runs import MonitorRunner

    store = _store()
    if monitor_id is not None:
        try:
            monitors = [store.get(monitor_id)]
        except InksealError as exc:
            _fail(str(exc))
    else:
        monitors = store.due() if due else store.list()
    reports, problems = [], 0
    with _progress() as bar:
        task = bar.add_task("monitor", total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step[:60], completed=done, total=total or None)

        runner = MonitorRunner(state.app(), progress=progress)
        for m in monitors:
            bar.update(task, description=f"monitor {m.id}", completed=0, total=None)
            try:
                report = runner.run(m.id)
            except InksealError as exc:
                err.print(f"monitor {m.id}: {exc}", highlight=False)
                problems += 1
                continue
            reports.append(report)
            problems += report.failed
            if not as_json:
                _print_report(report)
    if as_json:
        _emit([r.as_dict() for r in reports])
    if not monitors and not as_json:
        out.print("No monitor is due. / 没有到期的监控。")
    if problems:
        raise typer.Exit(1)


def _print_report(r) -> None:  # type: ignore[no-untyped-def]
    c = r.counts
    for line in r.info:
        out.print(f"monitor {r.monitor_id}: {line}", highlight=False, markup=False)
    for line in r.lines:
        err.print(f"monitor {r.monitor_id}: {line}", highlight=False, markup=False)
    out.print(f"monitor {r.monitor_id} run {r.run_id}{' (resumed)' if r.resumed else ''}: "
              f"{c['queued']:,} page(s) queued, {c['fetched']:,} fetched ({c['not_modified']:,} not modified, "
              f"{c['unchanged']:,} unchanged, {c['changed']:,} new or changed), {c['pages_scanned']:,} scanned, "
              f"{c['pictures']:,} picture(s), {len(r.new_matches)} new match(es) / "
              f"监控 {r.monitor_id}：抓取 {c['fetched']:,} 页，扫描 {c['pages_scanned']:,} 页，新发现 {len(r.new_matches)} 处",
              highlight=False, markup=False)
    for m in r.new_matches:
        out.print(f"  case {m['case_id']}: work {m['work_id']} '{m['work_title']}' ({m['tier']}) on {m['page_url']} "
                  f"- {m['picture_url']}", highlight=False, markup=False)
    for s in r.sent:
        (out if s.ok else err).print(f"  {s.kind} {s.notifier_id}: {s.detail}", highlight=False, markup=False)


@notify_app.command("add")
def notify_add(
    kind: Annotated[str, typer.Argument(help="webhook | email")],
    target: Annotated[str, typer.Argument(help="The webhook URL, or the e-mail address.")],
    as_json: JsonOpt = False,
) -> None:
    """Send each run's digest of new finds here. A webhook's signing secret is shown once."""
    if kind == "webhook":
        from inkseal.web.webhooks import check_target

        reason = check_target(target, True)
        if reason:
            _fail(reason, 2)
    elif kind == "email":
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", target):
            _fail(f"{target[:80]!r} is not an e-mail address / 不是有效的电子邮件地址", 2)
    else:
        _fail("kind is webhook or email / 类型须为 webhook 或 email", 2)
    n, secret = _store().add_notifier(kind, target)
    if as_json:
        _emit({"id": n.id, "kind": n.kind, "target": n.target, "secret": secret})
    else:
        out.print(f"notifier {n.id}: {kind} {target}", highlight=False)
        if secret:
            out.print(f"signing secret (shown once) / 签名密钥（仅显示一次）: {secret}", highlight=False)


@notify_app.command("list")
def notify_list(as_json: JsonOpt = False) -> None:
    """Where digests go (webhook secrets are never shown again)."""
    rows = [{"id": n.id, "kind": n.kind, "target": n.target} for n in _store().notifiers()]
    if as_json:
        _emit(rows)
    else:
        for r in rows:
            out.print(f"{r['id']}: {r['kind']} {r['target']}", highlight=False)


@notify_app.command("remove")
def notify_remove(notifier_id: Annotated[int, typer.Argument(help="Notifier to remove.")]) -> None:
    """Stop sending digests there."""
    try:
        _store().remove_notifier(notifier_id)
    except InksealError as exc:
        _fail(str(exc))
    out.print(f"Removed notifier {notifier_id}. / 已删除通知方式 {notifier_id}。")
