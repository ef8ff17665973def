"""`inkseal binding ...`: find a sealed file's C2PA manifest again from its soft binding (registry/bindings.py).

    inkseal binding lookup --value V [--alg A]   the manifests that bind this value
    inkseal binding read PICTURE...              read the keyless blind watermark (seal.blindmark), then look up
                                                 every candidate message it decoded: one line per picture
    inkseal binding manifest LABEL -o FILE       the manifest store's bytes (application/c2pa), e.g. for c2patool

Each asks this home's registry, or with --server URL any C2PA Soft Binding Resolution API (another inkseal
desk: https://HOST/api/v1/c2pa).

A keyless read decodes a few candidate messages (seal.blindmark.CANDIDATES) and cannot tell, without the
creator's key, which is the mark; all are looked up. A stored value is a 64-bit message, so a wrong
candidate meets a stored one by chance with probability (candidates x rows) / 2^64: nil in practice.
A picture that cannot be read fails alone (one line on stderr); exit code 1 when any failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from inkseal.cli import JsonOpt, _emit, _fail, _progress, app, err, out, per_file, state
from inkseal.errors import InksealError, one_line

binding_app = typer.Typer(help="C2PA soft bindings: find a sealed file's manifest from a stripped copy.",
                          no_args_is_help=True)
app.add_typer(binding_app, name="binding")

BLIND_ALG = "org.inkseal.blind.v2"  # seal.blindmark.ALG, without importing the image code for `lookup`


def _safe(text: str) -> str:
    from inkseal.journal.showgen import safe

    return safe(text)


ServerOpt = Annotated[str | None, typer.Option("--server", help="Ask this C2PA Soft Binding Resolution API "
                                                "(e.g. https://HOST/api/v1/c2pa) instead of this home's registry.")]


class _Local:
    """This home's registry, answering as the remote resolver does (plus the work and file ids)."""

    def __init__(self) -> None:
        from inkseal.registry.bindings import SoftBindings

        self.bindings = SoftBindings(state.app().registry)

    def matches(self, alg: str, value: str) -> list[dict[str, Any]]:
        return [m.as_dict() for m in self.bindings.matches(alg, value)]

    def manifest(self, label: str) -> bytes | None:
        return self.bindings.manifest(label)

    def close(self) -> None:
        pass


def _resolver(server: str | None):  # type: ignore[no-untyped-def]
    from inkseal.seal.resolution import RemoteResolver, ResolverError

    if server is None:
        return _Local()
    try:
        return RemoteResolver(server)
    except ResolverError as exc:
        _fail(str(exc), code=2)


def _described(m: dict[str, Any]) -> str:
    if "work_id" in m:
        return f"{_safe(m['manifest_label'])} (work {m['work_id']}, file {m['file_id']})"
    where = f" at {_safe(m['endpoint'])}" if m.get("endpoint") else ""
    return f"{_safe(m['manifest_label'])}{where} (similarity {m.get('similarity_score')})"


@binding_app.command("lookup")
def lookup(
    value: Annotated[str, typer.Option("--value", help="The soft binding's value (base64).")],
    alg: Annotated[str, typer.Option("--alg", help="The soft-binding algorithm.")] = BLIND_ALG,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The C2PA manifests whose soft binding is this value."""
    resolver = _resolver(server)
    try:
        found = resolver.matches(alg, value)
    except InksealError as exc:  # a bad alg or value (exit 2), or the remote resolver's refusal (exit 3)
        from inkseal.registry.bindings import BadBinding

        _fail(str(exc), code=2 if isinstance(exc, BadBinding) or "HTTP 400" in str(exc) else 3)
        return
    finally:
        resolver.close()
    if as_json:
        _emit({"alg": alg, "value": value, "matches": found})
        return
    if not found:
        out.print("no manifest binds this value / 没有清单绑定此值", highlight=False)
    for m in found:
        out.print(_described(m), highlight=False)


@binding_app.command("manifest")
def manifest(
    label: Annotated[str, typer.Argument(help="The manifest's label (urn:c2pa:...), as lookup gives it.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the manifest store (.c2pa).")],
    server: ServerOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Write a manifest store's bytes (application/c2pa) to a file."""
    if output.exists() and not force:
        _fail(f"{_safe(str(output))} exists: pass --force to replace it / 文件已存在，如需覆盖请加 --force", code=2)
    resolver = _resolver(server)
    try:
        data = resolver.manifest(label)
    except InksealError as exc:
        _fail(str(exc))
        return
    finally:
        resolver.close()
    if data is None:
        _fail(f"no manifest {_safe(label)} / 无此清单", code=1)
        return
    output.write_bytes(data)
    out.print(f"{_safe(str(output))}: {len(data):,} bytes / 字节", highlight=False)


def _read_one(path: Path, settings: Any, resolver: Any) -> dict[str, Any]:
    """The keyless read of one picture and the manifests its candidate messages name."""
    from inkseal.imaging import load_image, read_limited
    from inkseal.seal import blindmark

    read = per_file(path, lambda: {"read": blindmark.read(
        load_image(read_limited(path, settings.max_bytes), max_pixels=settings.max_pixels).rgb)})
    if "error" in read:
        return read
    reading = read["read"]
    matches: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        for cand in reading.candidates:
            value = blindmark.binding_value(cand.message)
            for m in resolver.matches(blindmark.ALG, value):
                if m["manifest_label"] not in seen:
                    seen.add(m["manifest_label"])
                    matches.append({"value": value, **m})
    except InksealError as exc:  # the remote resolver failed for this picture: it fails alone
        return {"file": str(path), "error": one_line(exc)[:300]}
    return {"file": str(path), "read": reading.as_dict(), "matches": matches}


def _line(r: dict[str, Any]) -> str:
    name = _safe(r["file"])
    if r["matches"]:
        shown = "; ".join(f"{_described(m)} value {m['value']}" for m in r["matches"])
        return f"{name}: {shown} / 找到清单 {len(r['matches'])} 个"
    reason = r["read"].get("reason")
    if reason:
        return f"{name}: no mark read / 未读出水印: {_safe(reason)}"
    return f"{name}: no manifest for any message read (best {r['read']['value']}) / 读出的消息均无对应清单"


@binding_app.command("read")
def read(
    pictures: Annotated[list[Path], typer.Argument(help="Pictures, or folders of pictures.")],
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read the keyless blind watermark of each picture and look up the manifests it names."""
    from inkseal.app import expand_paths
    from inkseal.config import load_settings

    settings = load_settings(state.home)
    files = expand_paths(pictures)
    if not files:
        _fail("no pictures found in the paths given / 所给路径中没有图片", code=2)
    results, failed = [], 0
    resolver = _resolver(server)
    try:
        with _progress() as progress:
            task = progress.add_task("reading blind marks / 读取盲水印", total=len(files))
            for f in files:
                r = _read_one(f, settings, resolver)
                results.append(r)
                if "error" in r:
                    failed += 1
                    err.print(f"{_safe(str(f))}: {_safe(r['error'])}", highlight=False)
                elif not as_json:
                    out.print(_line(r), highlight=False)
                progress.advance(task)
    finally:
        resolver.close()
    if as_json:
        _emit(results)
    if failed:
        raise typer.Exit(1)
