"""`inkseal check`: a platform's AI-label check (GB 45438-2025, CAC Measures Art. 6), and propagation.

Register in cli.py with `import inkseal.cli_platform  # noqa: E402,F401` next to the other command modules.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from inkseal.cli import JsonOpt, _emit, _fail, _progress, app, err, out, per_file, state
from inkseal.errors import InksealError, one_line


@app.command("check")
def check_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Pictures, or folders of pictures.")],
    public_key: Annotated[list[Path] | None, typer.Option(
        "--public-key", help="An inkseal public key (PEM) whose labels to verify; repeatable. This install's own "
                             "key is always tried.")] = None,
    declared: Annotated[bool, typer.Option("--declared", help="The uploader declared the files AI-generated "
                                                              "(Art. 6(2)).")] = False,
    detectors: Annotated[bool, typer.Option("--detectors/--no-detectors", help="Run the pixel detectors "
                                            "(explicit label, Stable Diffusion marks) when no label confirms.")] = True,
    our_watermark: Annotated[bool, typer.Option("--watermark", help="Also look for inkseal's keyed watermark of "
                                                "this install's sealed works (needs their passphrase).")] = False,
    pass_file: Annotated[Path | None, typer.Option("--passphrase-file",
                                                   help="Passphrase of the (encrypted) watermark key.")] = None,
    do_propagate: Annotated[bool, typer.Option("--propagate", help="Write a copy with the platform's "
                                               "ContentPropagator / PropagateID filled in (one FILE, needs "
                                               "--platform and -o).")] = False,
    platform: Annotated[str | None, typer.Option("--platform", help="ContentPropagator: the platform's name "
                                                 "or code.")] = None,
    propagate_id: Annotated[str | None, typer.Option("--propagate-id", help="PropagateID (default: a new UUID).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where --propagate writes the copy "
                                                "(never the input).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists (never the input).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check each file's AI labels and sort it as confirmed, possible, suspected or none (Art. 6)."""
    from inkseal.app import expand_paths
    from inkseal.config import load_settings
    from inkseal.platform.tiers import CheckOptions

    settings = load_settings(state.home)
    if do_propagate:
        _propagate(paths, platform, propagate_id or uuid.uuid4().hex, output, force, as_json, settings.max_bytes)
        return
    if platform or output:
        _fail("--platform and -o go with --propagate / --platform 与 -o 须与 --propagate 一起使用", code=2)
    keys = _public_keys(public_key or [])
    opts = CheckOptions(keys=keys, declared=declared, detectors=detectors, max_pixels=settings.max_pixels,
                        max_bytes=settings.max_bytes, watermark=_watermark(pass_file) if our_watermark else None)
    files = expand_paths(paths)
    if not files:
        _fail("no pictures found in the paths given / 所给路径中没有图片", code=2)
    reports, failed = [], 0
    with _progress() as progress:
        task = progress.add_task("checking labels / 核验标识", total=len(files))
        for f in files:
            rep = _check_one(f, opts)
            failed += "error" in rep
            reports.append(rep)
            if "error" in rep:
                err.print(f"{_safe(str(f))}: {_safe(rep['error'])}", highlight=False)
            progress.advance(task)
    if as_json:
        _emit(reports)
    else:
        for r in reports:
            if "error" not in r:
                _print_report(r)
        counts = {t: sum(r.get("tier") == t for r in reports) for t in ("confirmed", "possible", "suspected", "none")}
        zh = {"confirmed": "已确认", "possible": "可能", "suspected": "疑似", "none": "未发现"}
        out.print(", ".join(f"{n} {t}" for t, n in counts.items()) + f", {failed} failed / "
                  + "，".join(f"{zh[t]} {n} 个" for t, n in counts.items()) + f"，失败 {failed} 个", highlight=False)
    if failed:
        raise typer.Exit(1)


def _watermark(pass_file: Path | None) -> Any:
    from inkseal.cli_journal import passphrase
    from inkseal.platform.ourmark import detector

    ink = state.app()
    if ink.keys.watermark_locked():
        pw = passphrase(pass_file, required=True)
        try:
            ink.keys.unlock_watermark(pw or "")
        except InksealError as exc:
            _fail(str(exc), code=2)
    found = detector(ink)
    if found is None:
        err.print("[yellow]warning:[/yellow] --watermark: this install has no sealed work to look for / 本机没有已封存作品，"
                  "未检查水印", highlight=False)
    return found


def _check_one(f: Path, opts: Any) -> dict[str, Any]:
    from inkseal.imaging import read_limited
    from inkseal.platform.tiers import check_bytes

    return per_file(f, lambda: check_bytes(read_limited(f, opts.max_bytes), opts))


def _print_report(r: dict[str, Any]) -> None:
    out.print(f"[bold]{_safe(r['file'])}[/bold]: {r['tier']} / {r['tier_zh']}", highlight=False)
    out.print(f"  {_safe(r['reason']['en'])}", highlight=False)
    out.print(f"  {_safe(r['reason']['zh'])}", highlight=False)
    for fnd in r["findings"]:
        out.print(f"  [yellow]! {_safe(fnd['en'])} / {_safe(fnd['zh'])}[/yellow]", highlight=False)


def _safe(text: str) -> str:
    from inkseal.journal.showgen import safe

    return safe(text)


def _public_keys(paths: list[Path]) -> list[Any]:
    from inkseal.config import load_settings
    from inkseal.journal.keys import KeyStore, load_public

    keys = []
    for p in paths:
        try:
            keys.append(load_public(p.read_bytes()))
        except (OSError, ValueError, TypeError, InksealError) as exc:
            _fail(f"{_safe(str(p))}: not a readable Ed25519 public key (PEM): {_safe(one_line(exc))}"
                  " / 无法读取公钥", code=2)
    own = KeyStore(load_settings(state.home).home / "keys")
    if own.public_path.exists():
        try:
            keys.append(own.public())
        except (InksealError, ValueError):
            err.print("[yellow]warning:[/yellow] this install's public key is unreadable: not used / 本机公钥无法读取", highlight=False)
    return keys


def _propagate(paths: list[Path], platform: str | None, propagate_id: str, output: Path | None, force: bool,
               as_json: bool, max_bytes: int) -> None:
    from inkseal.imaging import read_limited
    from inkseal.platform.propagate import propagate

    if len(paths) != 1 or not platform or output is None:
        _fail("--propagate takes one FILE, --platform NAME and -o OUT / --propagate 需要一个文件、--platform 和 -o", code=2)
    src = paths[0]
    if output.resolve() == src.resolve() or (output.exists() and output.samefile(src)):
        _fail("the output must be another file: the input is never overwritten / 输出不能覆盖输入文件", code=2)
    if output.exists() and not force:
        _fail(f"{_safe(str(output))} exists: use --force to replace it / 输出文件已存在，如需覆盖请加 --force", code=2)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
            result = propagate(read_limited(src, max_bytes), platform, propagate_id)
    except (InksealError, OSError) as exc:
        _fail(_safe(f"{src}: {getattr(exc, 'strerror', None) or exc}"), code=1)
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(result.data)
    tmp.replace(output)
    if as_json:
        _emit({"input": str(src), "output": str(output), "ContentPropagator": platform, "PropagateID": propagate_id,
               "carriers": result.carriers, "notes": result.notes})
        return
    out.print(f"wrote {_safe(str(output))}: ContentPropagator {_safe(platform)}, PropagateID {_safe(propagate_id)} "
              f"in {_safe(', '.join(result.carriers))}", highlight=False)
    for n in result.notes:
        err.print(f"[yellow]note:[/yellow] {_safe(n)}", highlight=False)
