"""The `inkseal` command: a thin layer over `inkseal.app.Inkseal`.

Exit codes: 0 all went well; 1 some items failed (each named on its own line); 2 bad usage;
3 a named thing does not exist or an operation was refused. Progress goes to stderr, so
`--json` output on stdout stays clean for scripts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from inkseal.app import Inkseal, expand_paths
from inkseal.errors import InksealError
from inkseal.i18n import describe_localisation, odds_text, t
from inkseal.match.calibration import odds
from inkseal.registry.models import Match, Work

app = typer.Typer(help="inkseal: register your works and find their copies.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
work_app = typer.Typer(help="Show or remove one work.", no_args_is_help=True)
index_app = typer.Typer(help="Maintain the search indexes.", no_args_is_help=True)
match_app = typer.Typer(help="Show or decide on one stored match.", no_args_is_help=True)
app.add_typer(work_app, name="work")
app.add_typer(index_app, name="index")
app.add_typer(match_app, name="match")

out = Console(soft_wrap=True)  # never hard-wrap: lines stay greppable
err = Console(stderr=True, soft_wrap=True)


class State:
    home: str | None = None
    lang: str | None = None
    _app: Inkseal | None = None

    def app(self) -> Inkseal:
        if self._app is None:
            self._app = Inkseal.open(self.home, lang=self.lang)
        return self._app

    @property
    def language(self) -> str:
        return self.app().settings.lang


state = State()
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


@app.callback()
def main_options(
    home: Annotated[str | None, typer.Option(help="Data folder (default $INKSEAL_HOME or ./.inkseal).")] = None,
    lang: Annotated[str | None, typer.Option(help="Message language: en or zh.")] = None,
) -> None:
    state.home, state.lang, state._app = home, lang, None


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)


def per_file(path: Path, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One file of a batch: {"file", **work()}, or {"file", "error"} with a one-line reason. A hostile file
    never ends the batch; Pillow's corrupt-EXIF warnings stay off stderr (the file's own report says them)."""
    import warnings

    from inkseal.errors import one_line

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
            return {"file": str(path), **work()}
    except (InksealError, OSError) as exc:
        return {"file": str(path), "error": (getattr(exc, "strerror", None) or one_line(exc))[:300]}
    except MemoryError:
        return {"file": str(path), "error": "needs more memory than is available / 内存不足"}
    except Exception as exc:  # noqa: BLE001 - one hostile file must not end a batch of thousands
        return {"file": str(path), "error": f"unexpected error ({type(exc).__name__}): {one_line(exc)[:200]}"}


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _say(en: str, zh: str) -> str:
    """The message in the language the user asked for (`--lang`, LANG)."""
    return zh if state.language == "zh" else en


def _fail(message: str, code: int = 3) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


# -- listings: keyset pages, so `works`, `matches` and `cases` stay fast at any registry size -----
PAGE = 100  # rows a table shows unless --limit says otherwise
STREAM_PAGE = 1000  # rows per query when --json streams a whole listing
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="At most this many rows (tables: 100 by "
                                              "default; --json: all, streamed, unless --limit or --after).")]
AfterOpt = Annotated[int | None, typer.Option("--after", min=0, help="Only rows with an id above this one: "
                                              "the next page starts after the last id shown.")]


def _stream_json(fetch: Callable[[int | None, int], list], to_dict: Callable[[Any], dict]) -> None:
    """Write the whole listing as one JSON list, a page at a time: memory stays flat at any size."""
    after, first = None, True
    sys.stdout.write("[")
    while True:
        rows = fetch(after, STREAM_PAGE)
        for row in rows:
            sys.stdout.write(("\n  " if first else ",\n  ") + json.dumps(to_dict(row), ensure_ascii=False, default=str))
            first = False
        if len(rows) < STREAM_PAGE:
            break
        after = rows[-1].id
    sys.stdout.write("]\n" if first else "\n]\n")


def _listing(fetch: Callable[[int | None, int], list], to_dict: Callable[[Any], dict], as_json: bool,
             limit: int | None, after: int | None) -> list | None:
    """One page of a listing for a table (None when the output was JSON and is already written).

    --json without paging options streams every row as a list (what scripts always got); with
    --limit or --after it is one page: {"items": [...], "next_after": id or null}."""
    if as_json and limit is None and after is None:
        _stream_json(fetch, to_dict)
        return None
    size = limit or PAGE
    rows = fetch(after, size + 1)  # one more tells whether another page exists
    next_after = rows[size - 1].id if len(rows) > size else None
    rows = rows[:size]
    if as_json:
        _emit({"items": [to_dict(r) for r in rows], "next_after": next_after})
        return None
    if next_after is not None:
        more = (f"更多：加上 --after {next_after} 查看下一页" if state.language == "zh"
                else f"more: add --after {next_after} for the next page")
        err.print(more, highlight=False)
    return rows


def _work_dict(w: Work) -> dict:
    return {"id": w.id, "title": w.title, "author": w.author.name, "created_at": w.created_at,
            "registered_at": w.registered_at,
            "files": [{"id": f.id, "role": f.role, "sha256": f.sha256, "size_bytes": f.size_bytes,
                       "format": f.format, "width": f.width, "height": f.height, "name": f.source_name,
                       "regions": f.regions} for f in w.files]}


# -- registry ----------------------------------------------------------------------------------
@app.command()
def register(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders (recursive).")],
    author: Annotated[str, typer.Option(help="Author name.")],
    title: Annotated[str | None, typer.Option(help="Title (for one file; a prefix for several).")] = None,
    work: Annotated[int | None, typer.Option(help="Add the files to this existing work instead.")] = None,
    role: Annotated[str, typer.Option(help="original or published.")] = "original",
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=64, help="Fingerprint in this many processes "
                                      "(one per core); re-running a stopped run skips what is registered.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Register works: each file becomes a work (or a file of --work), fingerprinted and indexed."""
    ink = state.app()
    total = len(expand_paths(paths))
    with _progress() as bar:
        task = bar.add_task("register", total=total)
        report = ink.register(paths, author=author, title=title, work_id=work, role=role,
                              on_item=lambda _i: bar.advance(task), jobs=jobs)
    if as_json:
        _emit([i.__dict__ for i in report.items])
    else:
        for i in report.items:
            if i.error:
                err.print(t("register_failed", state.language, item=i.path, reason=i.error), highlight=False)
            elif i.skipped:
                out.print(f"{i.path}: {i.skipped}", highlight=False)
            else:
                wk = ink.work(i.work_id)  # type: ignore[arg-type]
                out.print(t("registered", state.language, work_id=wk.id, title=wk.title, files=len(wk.files)),
                          highlight=False)
    if report.failed:
        if not as_json:
            err.print(t("some_failed", state.language, n=len(report.failed)))
        raise typer.Exit(1)


@app.command()
def publish(
    work_id: Annotated[int, typer.Argument(help="Work to publish.")],
    signature: Annotated[str, typer.Option(help="Visible signature text, e.g. your handle.")],
    corner: Annotated[str, typer.Option(help="bottom-right, bottom-left, top-right or top-left.")] = "bottom-right",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the signed PNG.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a signed copy of a work and register it as the work's published version."""
    try:
        wf, path = state.app().publish(work_id, signature=signature, corner=corner, out=output)
    except (InksealError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        _emit({"work_id": work_id, "file_id": wf.id, "path": str(path), "regions": wf.regions})
    else:
        out.print(f"{path}  (file {wf.id}, signature box {wf.regions['signature']})", highlight=False)


@app.command()
def works(as_json: JsonOpt = False, limit: LimitOpt = None, after: AfterOpt = None) -> None:
    """List registered works, a page at a time (--limit, --after)."""
    ink = state.app()
    items = _listing(lambda a, n: ink.works(after_id=a, limit=n), _work_dict, as_json, limit, after)
    if items is None:
        return
    if not items:
        out.print(t("no_works", state.language))
        return
    table = Table("ID", "Title", "Author", "Files", "Registered")
    for w in items:
        table.add_row(str(w.id), w.title, w.author.name, ", ".join(f.role for f in w.files),
                      f"{w.registered_at:%Y-%m-%d %H:%M}")
    out.print(table)


@work_app.command("show")
def work_show(work_id: int, as_json: JsonOpt = False) -> None:
    """Show one work, its files and their hashes."""
    try:
        w = state.app().work(work_id)
    except InksealError as exc:
        _fail(str(exc))
    d = _work_dict(w)
    if as_json:
        _emit(d)
        return
    out.print(f"[bold]{w.id}[/bold] {w.title} — {w.author.name}", highlight=False)
    for f in d["files"]:
        extra = f"  regions={f['regions']}" if f["regions"] else ""
        out.print(f"  file {f['id']} {f['role']:<9} {f['format']:<5} {f['width']}x{f['height']} "
                  f"{f['size_bytes']:>9,} B  sha256 {f['sha256']}{extra}", highlight=False)


@work_app.command("remove")
def work_remove(work_id: int, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Remove a work with its files, fingerprints and matches."""
    ink = state.app()
    try:
        w = ink.work(work_id)
    except InksealError as exc:
        _fail(str(exc))
    if not yes and not typer.confirm(f"Remove work {w.id} '{w.title}'?"):
        raise typer.Exit(3)
    ink.remove_work(work_id)
    out.print(t("removed", state.language, work_id=work_id))


@index_app.command("compact")
def index_compact() -> None:
    """Merge each index's delta log into a new base file (done automatically as the log grows)."""
    counts = state.app().compact_index()
    n = sum(counts.values())
    said = f"索引已合并：{n} 个指纹。" if state.language == "zh" else f"Index compacted: {n} fingerprint(s)."
    out.print(f"{said} {counts}", highlight=False)


@index_app.command("rebuild")
def index_rebuild() -> None:
    """Rebuild the FAISS indexes from the database."""
    counts = state.app().rebuild_index()
    out.print(t("index_rebuilt", state.language, count=sum(counts.values())) + f" {counts}", highlight=False)


# -- scanning and matches ------------------------------------------------------------------------
def _verdict_line(m: Match, suspect: str, title: str, lang: str) -> str:
    """One line per verdict: a copy with its score, what it means and its margin; a derivative in words only
    (its score is not a copy's false-match rate)."""
    if (m.scores or {}).get("tier") == "derivative":
        return t("derivative_line", lang, suspect=suspect, work_id=m.work_id, title=title)
    if (m.scores or {}).get("copy_by") == "region":
        return t("match_line", lang, suspect=suspect, work_id=m.work_id, title=title, score=m.score,
                 meaning=t("region_copy", lang))
    meaning = t("meaning", lang, odds=odds_text(m.score, lang))
    margin = (m.scores or {}).get("margin")
    if margin is not None:
        meaning += ("; " if lang != "zh" else "；") + t("margin", lang, margin=float(margin))
    others = (m.scores or {}).get("indistinct_from")
    if others:
        meaning += ("; " if lang != "zh" else "；") + t("indistinct", lang, others=", ".join(map(str, others)))
    return t("match_line", lang, suspect=suspect, work_id=m.work_id, title=title, score=m.score, meaning=meaning)


def _match_dict(m: Match) -> dict:
    s = m.suspect
    return {"id": m.id, "case_id": m.case_id, "status": m.status, "work_id": m.work_id, "work_title": m.work.title, "file_id": m.file_id,
            "tier": (m.scores or {}).get("tier") or "copy", "score": round(m.score, 2),
            "false_match_odds": f"1 in {odds(m.score)}", "scores": m.scores,
            "localisation": m.localisation, "created_at": m.created_at,
            "suspect": {"id": s.id, "sha256": s.sha256, "kind": s.source_kind, "source": s.source,
                        "page_url": s.page_url, "location": s.location, "captured_at": s.captured_at,
                        "width": s.width, "height": s.height}}


@app.command()
def scan(
    sources: Annotated[list[str], typer.Argument(help="Image files, folders, saved pages, WARC files, URL lists, URLs.")],
    browser: Annotated[bool, typer.Option("--browser", help="Open URLs in headless Chromium: what the page showed, "
                                          "with a full-page screenshot kept as evidence.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Scan sources for copies of registered works; matches are stored (see `inkseal matches`)."""
    from inkseal.match.sources.browser import BrowserUnavailable

    ink = state.app()
    lang = state.language
    with _progress() as bar:
        task = bar.add_task("scan", total=None)

        def on_item(r) -> None:  # type: ignore[no-untyped-def]
            bar.advance(task)
            if r.error and not as_json:
                bar.console.print(t("item_failed", lang, item=r.item.label, reason=r.error), highlight=False,
                                  style="yellow")

        try:
            report = ink.scan(sources, on_item=on_item, browser=browser)
        except BrowserUnavailable as exc:
            _fail(t("no_browser", lang, reason=str(exc)))
    if as_json:
        _emit({"scan_id": report.scan_id, "items": len(report.results),
               "failed": [{"item": r.item.label, "error": r.error} for r in report.failed],
               "whitelisted": report.suppressed,
               "matches": [_match_dict(ink.registry.match(m.id)) for r in report.matched for m in r.matches]})
    else:
        for r in report.matched:
            for m in r.matches:
                full = ink.registry.match(m.id)
                out.print(_verdict_line(m, r.item.label, full.work.title, lang), highlight=False)
                for line in describe_localisation(m.localisation, lang):
                    out.print(f"    {line}", highlight=False)
        out.print(t("scan_summary", lang, items=len(report.results), matches=sum(len(r.matches) for r in report.matched),
                    failed=len(report.failed), suppressed=report.suppressed))
    if report.failed:
        raise typer.Exit(1)


@app.command()
def matches(
    status: Annotated[str | None, typer.Option(help="Status of the case (new, confirmed, ignored, ...).")] = None,
    work: Annotated[int | None, typer.Option(help="Only this work.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Every sighting, not only the latest of each case.")] = False,
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    after: AfterOpt = None,
) -> None:
    """List stored matches: the latest sighting of each case (see `inkseal cases`), a page at a time."""
    ink = state.app()
    items = _listing(lambda a, n: ink.matches(status, work, history=history, after_id=a, limit=n), _match_dict,
                     as_json, limit, after)
    if items is None:
        return
    table = Table("ID", "Case", "Status", "Tier", "Work", "Score", "Visible", "Signature", "Suspect")
    for m in items:
        sig = (m.localisation.get("regions") or {}).get("signature", {}).get("status", "")
        vis = m.localisation.get("visible_fraction")
        tier = (m.scores or {}).get("tier") or "copy"
        table.add_row(str(m.id), str(m.case_id or ""), m.status, tier, f"{m.work_id} {m.work.title}",
                      f"{m.score:.1f}" if tier == "copy" else "",
                      f"{100 * vis:.0f}%" if vis is not None else "", sig, m.suspect.page_url or m.suspect.source)
    out.print(table)


@match_app.command("show")
def match_show(
    match_id: int,
    image: Annotated[Path | None, typer.Option("-o", "--image", help="Write the side-by-side figure (PNG).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one match: source, scores, what is visible and cut; optionally as a picture."""
    ink = state.app()
    try:
        m = ink.registry.match(match_id)
        if image is not None:
            ink.match_figure(match_id).save(image)
    except InksealError as exc:
        _fail(str(exc))
    d = _match_dict(ink.registry.match(match_id))
    if as_json:
        _emit(d | {"figure": str(image) if image else None})
        return
    s = d["suspect"]
    out.print(f"[bold]match {m.id}[/bold] (case {m.case_id}, {m.status}, {d['tier']}): "
              + _verdict_line(m, s["source"], d["work_title"], state.language), highlight=False)
    out.print(f"  suspect {s['source']} ({s['width']}x{s['height']}, sha256 {s['sha256']})", highlight=False)
    if s["page_url"]:
        out.print(f"  page {s['page_url']} '{s['location'].get('page_title', '')}' at {s['location'].get('dom_path')}",
                  highlight=False)
    for line in describe_localisation(m.localisation, state.language):
        out.print(f"  {line}", highlight=False)
    if image is not None:
        out.print(f"  figure: {image}", highlight=False)


@match_app.command("mark")
def mark(
    match_id: int,
    status: Annotated[str, typer.Argument(help="confirmed, ignored or whitelisted (an authorised use); "
                                               "any case status (see `inkseal case mark`).")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Decide on a match: this marks its case. Whitelisted uses are not reported by later scans."""
    try:
        state.app().set_match_status(match_id, status, note)
    except (InksealError, ValueError) as exc:
        _fail(str(exc))
    out.print(t("status_set", state.language, match_id=match_id, status=status))


@app.command("seal")
def seal_cmd(
    work_id: Annotated[int, typer.Argument(help="The registered work to seal.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Sealed file: .png, .jpg or .webp.")],
    signature: Annotated[str, typer.Option(help="Visible signature: your name or handle.")],
    corner: Annotated[str, typer.Option(help="Signature corner.")] = "bottom-right",
    signature_size: Annotated[float, typer.Option(help="Signature text height, share of the shorter side.")] = 0.06,
    signature_opacity: Annotated[float, typer.Option(help="Signature opacity, 0-1.")] = 0.85,
    no_ai_label: Annotated[bool, typer.Option("--no-ai-label", help="Leave out the explicit AI label (warns).")] = False,
    label_text: Annotated[str, typer.Option(help="Explicit label text (must contain AI/人工智能 and 生成/合成).")] = "AI生成",
    data_mining: Annotated[str, typer.Option(help="plus:DataMining value.")] = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING",
    pass_file: Annotated[Path | None, typer.Option("--passphrase-file")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a work: signature, AI labels, XMP rights, keyed watermark, then C2PA credentials."""
    from inkseal.cli_journal import passphrase
    from inkseal.seal.service import SealOptions, seal

    ink = state.app()
    try:
        result = seal(ink, work_id, output, SealOptions(signature=signature, corner=corner, signature_size=signature_size,
                                                        signature_opacity=signature_opacity, ai_label=not no_ai_label,
                                                        label_text=label_text, data_mining=data_mining),
                      passphrase(pass_file, required=True) or "")
    except (InksealError, ValueError) as exc:
        _fail(str(exc))
    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    if as_json:
        _emit({"path": str(result.path), "file_id": result.file_id, "regions": result.regions, "warnings": result.warnings})
    else:
        out.print(f"sealed {result.path} (file {result.file_id} of work {work_id})", highlight=False)


@app.command("inspect")
def inspect_cmd(
    files: Annotated[list[Path], typer.Argument(help="Images to inspect.")],
    anchors: Annotated[Path | None, typer.Option(help="Extra C2PA trust anchors (PEM).")] = None,
    pass_file: Annotated[Path | None, typer.Option("--passphrase-file",
                                                   help="Passphrase of the (encrypted) watermark key.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Report the labels, rights, C2PA credentials, generator parameters and watermark a file carries."""
    from inkseal.seal.inspect import inspect_path

    ink = state.app()
    if ink.keys.watermark_locked():  # our own watermark needs the key; without it the rest is still reported
        from inkseal.cli_journal import passphrase

        pw = passphrase(pass_file, required=False, warn=False)
        if pw:
            try:
                ink.keys.unlock_watermark(pw)
            except InksealError as exc:
                _fail(str(exc))
    reports, failed = [], 0
    extra = anchors.read_bytes() if anchors else None
    for f in files:
        try:
            rep = inspect_path(ink, f, lang=state.language, extra_anchors=extra)
        except (InksealError, OSError) as exc:
            failed += 1
            rep = {"error": str(exc)}
            from inkseal.journal.showgen import safe as _safe

            err.print(t("item_failed", state.language, item=_safe(str(f)), reason=_safe(str(exc))), highlight=False)
        reports.append({"file": str(f), **rep})
    if as_json:
        _emit(reports)
    else:
        from inkseal.journal.showgen import generation_lines, safe

        for r in reports:
            if "error" in r:
                continue
            lab = r["implicit_label"]
            out.print(f"[bold]{safe(r['file'])}[/bold] {r['format']} {r['width']}x{r['height']}", highlight=False)
            out.print(f"  implicit label: {safe('Label ' + str(lab.get('Label')) + ', ' + str(lab.get('ContentProducer'))) if lab['present'] else 'none'}"
                      + (f" ({safe(lab['carrier'])})" if lab.get("carrier") else "")
                      + (f", signature {'valid' if lab.get('signature_valid') else 'INVALID'}" if 'signature_valid' in lab else ""),
                      highlight=False)
            out.print(f"  C2PA: {r['c2pa']['state']}" + (f" ({safe(r['c2pa']['claim_generator'])})" if r['c2pa']['claim_generator'] else ""),
                      highlight=False)
            c2 = r["c2pa"]
            if c2.get("service"):
                out.print(f"    {safe(c2['service'])}" + (f" {safe(c2['generator_version'])}" if c2.get("generator_version") else "")
                          + f": {safe(', '.join(str(a) for a in c2.get('actions') or []))}"
                          + (f"; {safe(c2['digital_source_type'].rsplit('/', 1)[-1])}" if c2.get("digital_source_type") else "")
                          + (f"; agent {safe(', '.join(c2['software_agents']))}" if c2.get("software_agents") else "")
                          + (f"; ingredients {safe(', '.join(str(i.get('title')) for i in c2['ingredients']))}"
                             if c2.get("ingredients") else ""), highlight=False)
            if r["watermark"]:
                out.print(_watermark_line(r["watermark"]), highlight=False)
            for g in r["generator"]:
                for line in generation_lines(g, state.language):
                    out.print(line, highlight=False)
            for problem in r.get("metadata_problems") or []:
                out.print(f"  [yellow]! {safe(problem)}[/yellow]", highlight=False)
            for fnd in r["findings"]:
                out.print(f"  [yellow]! {safe(fnd['message'])}[/yellow]", highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo writes its suspects.")] = Path(".inkseal/demo"),
) -> None:
    """Run the end-to-end demo on the bundled sample photos."""
    from inkseal.demo import run_demo

    raise typer.Exit(run_demo(state.app(), workdir, out, err))


def _watermark_line(w: dict[str, Any]) -> str:
    """inspect's watermark line: the mode, the work it names, its evidence, the bound, where it is."""
    found = _say(f"work {w['work_id']}", f"作品 {w['work_id']}") if w["detected"] else _say("not found", "未发现")
    if w["agreement"] == "MAC holds":
        evidence = _say("MAC holds, ", "MAC 成立, ")
    elif w["agreement"] == "-":
        evidence = ""
    else:
        evidence = _say(f"{w['agreement']} bits, ", f"{w['agreement']} 位, ")
    where = ""
    if w.get("region"):
        x0, y0, x1, y1 = w["region"]
        where = _say(f", at ({x0},{y0})-({x1},{y1})", f"，位于 ({x0},{y0})-({x1},{y1})")
    return (f"  {_say('watermark', '水印')} ({w['mode']}): {found}, {evidence}"
            f"{_say('false-positive probability', '误报概率')} {w['false_positive_probability']:.1e}{where}")


def main() -> None:
    try:
        app()
    except InksealError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(3)


import inkseal.cli_journal  # noqa: E402,F401  (registers `keys` and `journal` on `app`)
import inkseal.cli_cases  # noqa: E402,F401  (registers `cases` and `case` on `app`)
import inkseal.cli_web  # noqa: E402,F401  (registers `serve`, `user` and `token` on `app`)
import inkseal.cli_metadata  # noqa: E402,F401  (registers `metadata strip` on `app`)
import inkseal.cli_platform  # noqa: E402,F401  (registers `check` on `app`)
import inkseal.cli_monitor  # noqa: E402,F401  (registers `monitor` on `app`)
import inkseal.cli_audit  # noqa: E402,F401  (registers `audit` on `app`)
import inkseal.cli_binding  # noqa: E402,F401  (registers `binding` on `app`)
