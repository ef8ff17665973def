"""`inkseal metadata strip FILE -o OUT`: publish a picture without its prompt and parameters.

Register in cli.py with `import inkseal.cli_metadata  # noqa: E402,F401` next to the other command modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inkseal.cli import JsonOpt, _emit, _fail, app, err, out
from inkseal.errors import InksealError

metadata_app = typer.Typer(help="Generation metadata in picture files.", no_args_is_help=True)
app.add_typer(metadata_app, name="metadata")


@metadata_app.command("strip")
def metadata_strip(
    file: Annotated[Path, typer.Argument(help="The picture (PNG, JPEG or WebP).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the stripped copy (never the input).")],
    keep_labels: Annotated[bool, typer.Option("--keep-labels/--drop-labels", help="Keep GB 45438 implicit labels "
                                              "(default: kept; the law asks AI pictures to carry them).")] = True,
    keep_c2pa: Annotated[bool, typer.Option("--keep-c2pa/--drop-c2pa", help="Keep a C2PA manifest (default: kept).")] = True,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists (never the input).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove prompts, parameters, workflows and other generation metadata; keep labels and C2PA as asked."""
    from inkseal.imaging import read_limited
    from inkseal.journal.importers import import_file
    from inkseal.journal.showgen import safe
    from inkseal.journal.strip import strip_metadata

    try:
        same = output.exists() and output.resolve().samefile(file.resolve())
    except OSError:
        same = False
    if same or output.resolve() == file.resolve():
        _fail("the output must be another file: the input is never overwritten / 输出不能覆盖输入文件", code=2)
    if output.exists() and not force:
        _fail(f"{safe(str(output))} exists: use --force to replace it / 输出文件已存在，如需覆盖请加 --force", code=2)
    try:
        data = read_limited(file, 256 * 1024 * 1024)
        stripped, report = strip_metadata(data, keep_labels=keep_labels, keep_c2pa=keep_c2pa)
    except OSError as exc:
        _fail(safe(f"{file}: cannot read the file ({exc.strerror or exc}) / 无法读取该文件"))
    except InksealError as exc:
        _fail(safe(f"{file}: {exc}"))
    # check the result: no generation parameters may be left (labels / C2PA only, as asked)
    _meta, gens, _problems = import_file(stripped)
    left = [g.tool for g in gens if g.source_key not in ("c2pa", "aigc-label")]
    if left:
        _fail(f"could not remove everything ({', '.join(left)} still readable): nothing written / 无法完全移除，未写出文件")
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(stripped)
    tmp.replace(output)
    result = {"input": str(file), "output": str(output), "removed": report.removed, "kept": report.kept,
              "notes": report.notes}
    if as_json:
        _emit(result)
        return
    out.print(f"wrote {safe(str(output))}", highlight=False)
    out.print("  removed / 已移除: " + (safe(", ".join(report.removed)) or "nothing / 无"), highlight=False)
    if report.kept:
        out.print("  kept / 已保留: " + safe(", ".join(report.kept)), highlight=False)
    for n in report.notes:
        err.print(f"[yellow]{safe(n)}[/yellow]", highlight=False)
