"""`inkseal keys ...` and `inkseal journal ...`: thin commands over `Inkseal.journal` and `Inkseal.keys`.

The passphrase of the signing key comes from --passphrase-file, else INKSEAL_PASSPHRASE, else an
interactive prompt. Without a key or passphrase, entries are still recorded, unsigned, and
`journal verify` says which entries no signature covers yet.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from inkseal.cli import JsonOpt, _emit, _fail, _progress, app, err, out, state
from inkseal.errors import InksealError
from inkseal.journal.log import Bundle, Subset, is_subset, verify_bundle, verify_subset

keys_app = typer.Typer(help="The author's signing key (Ed25519, encrypted at rest).", no_args_is_help=True)
journal_app = typer.Typer(help="The creation journal: tamper-evident authorship evidence.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(journal_app, name="journal")

PassFile = Annotated[Path | None, typer.Option("--passphrase-file", help="Read the key's passphrase from this file.")]


def passphrase(pass_file: Path | None, *, required: bool, confirm: bool = False, warn: bool = True) -> str | None:
    """From --passphrase-file, INKSEAL_PASSPHRASE or a prompt. `warn`: say that journal entries go unsigned
    when none is given (not said where only the watermark key needs it, e.g. `inspect`)."""
    if pass_file is not None:
        try:
            return pass_file.read_text().rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read the passphrase file {pass_file}: {getattr(exc, 'strerror', None) or exc} / "
                  f"无法读取口令文件 {pass_file}")
    if os.environ.get("INKSEAL_PASSPHRASE"):
        return os.environ["INKSEAL_PASSPHRASE"]
    ink = state.app()
    if not required and not ink.keys.exists():
        return None
    if sys.stdin.isatty():
        return typer.prompt("Passphrase / 密钥口令", hide_input=True, confirmation_prompt=confirm)
    if required:
        _fail("a passphrase is needed: use --passphrase-file or INKSEAL_PASSPHRASE")
    if warn:
        err.print("[yellow]no passphrase given: entries are recorded unsigned (run `inkseal journal checkpoint` later)[/yellow]")
    return None


@keys_app.command("init")
def keys_init(pass_file: PassFile = None, force: Annotated[bool, typer.Option("--force")] = False) -> None:
    """Create the author's Ed25519 key pair; the private key is encrypted with a passphrase."""
    ink = state.app()
    if force and ink.keys.exists() and _journal_is_signed(ink):
        _fail("the journal is signed with the current key: a new key made with `keys init --force` would break its "
              "chain of keys (and lose the old key). Use `inkseal keys rotate` instead / 日志已由当前密钥签名，"
              "请使用 `inkseal keys rotate` 更换密钥")
    try:
        kid = ink.keys.init(passphrase(pass_file, required=True, confirm=True) or "", force=force)
    except InksealError as exc:
        _fail(str(exc))
    out.print(f"key id {kid}\npublic key: {ink.keys.public_path}", highlight=False)


def _journal_is_signed(ink) -> bool:  # type: ignore[no-untyped-def]
    bundle = ink.journal.bundle()
    return bool(bundle.checkpoints) or any(e.signature for e in bundle.entries)


@keys_app.command("show")
def keys_show(as_json: JsonOpt = False) -> None:
    """Show the public key and its id."""
    ink = state.app()
    try:
        kid, pem = ink.keys.key_id(), ink.keys.public_path.read_text()
    except InksealError as exc:
        _fail(str(exc))
    if as_json:
        _emit({"key_id": kid, "public_key": pem})
    else:
        out.print(f"key id {kid}\n{pem}", highlight=False)


@keys_app.command("export")
def keys_export(output: Annotated[Path, typer.Option("-o", "--output")],
                private: Annotated[bool, typer.Option("--private", help="Export the (still encrypted) private key.")] = False) -> None:
    """Export the public key, or the encrypted private key for a backup."""
    ink = state.app()
    try:
        data = ink.keys.export_private() if private else ink.keys.public_path.read_bytes()
    except (InksealError, OSError) as exc:
        _fail(str(exc))
    output.write_bytes(data)
    if private:
        os.chmod(output, 0o600)
    out.print(f"wrote {output}", highlight=False)


@keys_app.command("import")
def keys_import(key_file: Path, pass_file: PassFile = None, force: Annotated[bool, typer.Option("--force")] = False) -> None:
    """Import an encrypted private key exported by `keys export --private`."""
    ink = state.app()
    try:
        kid = ink.keys.import_private(key_file.read_bytes(), passphrase(pass_file, required=True) or "", force=force)
    except (InksealError, OSError) as exc:
        _fail(str(exc))
    out.print(f"imported key id {kid}", highlight=False)


@keys_app.command("rotate")
def keys_rotate(pass_file: PassFile = None) -> None:
    """Replace the signing key by a new one, handed over by a journal entry the old key signs.

    `journal verify` accepts a key change only through such an entry; the old encrypted key is kept as
    keys/author.key.rotated-<id> (same passphrase), so that older packs can still be re-made."""
    import base64
    import shutil

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from inkseal.journal.keys import key_id, public_pem
    from inkseal.journal.log import rotation_message

    ink = state.app()
    pw = passphrase(pass_file, required=True) or ""
    try:
        old = ink.keys.private(pw)
    except InksealError as exc:
        _fail(str(exc))
    new = Ed25519PrivateKey.generate()
    old_kid, new_kid = key_id(old.public_key()), key_id(new.public_key())
    rotation = {"previous_key_id": old_kid, "previous_public_key": public_pem(old.public_key()),
                "new_key_id": new_kid, "new_public_key": public_pem(new.public_key()),
                "new_key_signature": base64.b64encode(new.sign(rotation_message(old_kid, new_kid))).decode()}
    ink.journal.checkpoint(pw)  # everything so far is signed by the old key
    seq = ink.journal.append("note", {"key_rotation": rotation}, passphrase=pw)  # the old key hands over
    backup = ink.keys.private_path.with_name(f"author.key.rotated-{old_kid[:16]}")
    shutil.copy2(ink.keys.private_path, backup)
    os.chmod(backup, 0o600)
    ink.keys._write(new, pw)  # KeyStore's own writer: encrypted, 0600, atomic
    ink.journal.checkpoint(pw)  # the new key signs the log including the hand-over
    out.print(f"key rotated at journal entry #{seq}: {old_kid[:16]}… → {new_kid}\n"
              f"old key kept in {backup}", highlight=False)


@journal_app.command("import")
def journal_import(paths: Annotated[list[Path] | None, typer.Argument(help="Images or folders.")] = None,
                   work: Annotated[int | None, typer.Option(help="Attach the entries to this work.")] = None,
                   reparse: Annotated[bool, typer.Option("--reparse", help="Re-read the metadata already journaled "
                                                         "(stored raw, or the files given) with the current importers; "
                                                         "what they now read is appended as new entries citing the "
                                                         "old ones (signed entries never change).")] = False,
                   pass_file: PassFile = None, as_json: JsonOpt = False) -> None:
    """Journal images and the generation parameters they carry (any supported tool)."""
    if not paths and not reparse:
        _fail("give images or folders to import (or --reparse) / 请指定要导入的图片或文件夹", code=2)
    ink = state.app()
    pw = passphrase(pass_file, required=False)
    try:
        with _progress() as bar:
            task = bar.add_task("journal", total=None)
            if reparse:
                items = ink.journal.reparse(paths or [], passphrase=pw, on_item=lambda _i: bar.advance(task))
            else:
                items = ink.journal.import_paths(paths or [], work_id=work, passphrase=pw,
                                                 on_item=lambda _i: bar.advance(task))
    except InksealError as exc:
        _fail(str(exc))
    if as_json:
        _emit([i.__dict__ for i in items])
    else:
        from inkseal.journal.showgen import safe

        for i in items:  # tool names and messages quote the file (a C2PA generator, a label's producer)
            if i.error:
                err.print(safe(f"{i.path}: {i.error}"), highlight=False)
            else:
                what = (i.message if reparse else None) or (", ".join(i.tools) if i.tools else (i.message or ""))
                seqs = ", ".join(f"#{s}" for s in i.entries)
                out.print(safe(f"{i.path}: {what} {seqs}".rstrip()), highlight=False)
    if any(i.error for i in items):
        raise typer.Exit(1)


@journal_app.command("watch")
def journal_watch(directory: Path, work: Annotated[int | None, typer.Option()] = None, pass_file: PassFile = None,
                  interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 1.0,
                  duration: Annotated[float | None, typer.Option("--for", help="Stop after this many seconds.")] = None) -> None:
    """Follow a tool's output folder and journal each new image as it appears (Ctrl-C stops)."""
    ink = state.app()
    pw = passphrase(pass_file, required=False)
    deadline = time.monotonic() + duration if duration else None
    out.print(f"watching {directory} … (Ctrl-C to stop)", highlight=False)

    def show(i) -> None:  # type: ignore[no-untyped-def]
        msg = i.error or (", ".join(i.tools) if i.tools else i.message) or ""
        out.print(f"{i.path}: {msg} {' '.join(f'#{s}' for s in i.entries)}".rstrip(), highlight=False)

    try:
        ink.journal.watch(directory, work_id=work, passphrase=pw, interval_s=interval, on_item=show,
                          stop=lambda: deadline is not None and time.monotonic() > deadline)
    except KeyboardInterrupt:
        pass


@journal_app.command("curate")
def journal_curate(work: int, action: Annotated[str, typer.Argument(help="selected, rejected, edited or published")],
                   file: Annotated[Path | None, typer.Option(help="The picture concerned.")] = None,
                   source: Annotated[Path | None, typer.Option("--from", help="For `edited`: the picture it was edited from.")] = None,
                   where: Annotated[str, typer.Option(help="For `published`: where (URL, platform).")] = "",
                   note: Annotated[str, typer.Option(help="What and why.")] = "", pass_file: PassFile = None) -> None:
    """Record a decision: selecting, rejecting, editing or publishing a picture."""
    ink = state.app()
    try:
        seq = ink.journal.curate(action, work_id=work, file=file, source=source, note=note, where=where,
                                 passphrase=passphrase(pass_file, required=False))
    except (InksealError, ValueError, OSError) as exc:
        _fail(str(exc))
    out.print(f"journal entry #{seq}: {action}", highlight=False)


@journal_app.command("checkpoint")
def journal_checkpoint(pass_file: PassFile = None,
                       tsa: Annotated[str | None, typer.Option(help="RFC 3161 timestamp authority URL.")] = None,
                       save: Annotated[Path | None, typer.Option("--save", help="Also write the latest checkpoint "
                                                                  "to this file: keep it (or give it to others) to "
                                                                  "pin with `journal verify --checkpoint`.")] = None) -> None:
    """Sign the journal's current tree head (and timestamp it with a TSA if asked)."""
    from inkseal.journal.log import checkpoint_line

    ink = state.app()
    try:
        cp = ink.journal.checkpoint(passphrase(pass_file, required=True) or "", tsa_url=tsa)
    except InksealError as exc:
        _fail(str(exc))
    out.print("nothing new to sign" if cp is None else f"checkpoint: {cp.size} entries, root {cp.root_hash}", highlight=False)
    if save is not None:
        cps = ink.journal.bundle().checkpoints
        if not cps:
            _fail("the journal has no checkpoint to save")
        save.write_text(checkpoint_line(max(cps, key=lambda c: c.size)) + "\n", encoding="utf-8")
        out.print(f"wrote {save}", highlight=False)


KeyOpt = Annotated[Path | None, typer.Option("--key", help="Trust only this public key (PEM, e.g. from "
                                                            "`inkseal keys export`).")]
FingerprintOpt = Annotated[str | None, typer.Option("--fingerprint", help="Trust only the key with this id "
                                                                          "(hex, 32-64 digits).")]
CheckpointOpt = Annotated[Path | None, typer.Option("--checkpoint", help="A checkpoint you kept earlier "
                                                    "(`journal checkpoint --save`, or an exported journal): "
                                                    "detects entries cut off or rewritten since.")]


def _lang() -> str:
    """Message language without opening (and so creating) a home folder: verifying needs none."""
    from inkseal.config import load_settings

    try:  # the settings' own rule (--lang, config.toml, INKSEAL_LANG, LANG); reading them creates nothing
        lang = load_settings(state.home, lang=state.lang).lang
    except ValueError:  # a broken config.toml must not stop a verification
        lang = state.lang or "en"
    return "zh" if lang == "zh" else "en"


def _pins(key: Path | None, fingerprint: str | None, checkpoint: Path | None):  # type: ignore[no-untyped-def]
    """(pinned key id or None, pinned checkpoint or None); a bad pin is a usage error, one line."""
    from inkseal.evidence.verify import normalise_fingerprint
    from inkseal.journal.keys import key_id, load_public
    from inkseal.journal.log import load_checkpoint

    pinned = cp = None
    try:
        if key is not None:
            pinned = key_id(load_public(key.read_bytes()))
        if fingerprint is not None:
            fp = normalise_fingerprint(fingerprint)
            if pinned is not None and not pinned.startswith(fp):
                raise ValueError("--key and --fingerprint name different keys")
            pinned = pinned or fp
        if checkpoint is not None:
            cp = load_checkpoint(checkpoint.read_text(encoding="utf-8"))
    except (ValueError, OSError, InksealError) as exc:
        _fail(f"cannot use the pin: {exc} / 无法使用指定的密钥或检查点", code=2)
    return pinned, cp


def _say_whose_key(kid: str | None, name: str | None, pinned: str | None, as_err: bool = False) -> None:
    """One line naming the key trusted and the signer; without a pin, what that cannot prove."""
    from inkseal.i18n import t

    lang = _lang()
    who = name or ("（日志未记录姓名）" if lang == "zh" else "(no name recorded)")
    console = err if as_err else out
    console.print(t("verify_signer", lang, kid=kid or "-", name=who), highlight=False)
    if pinned is None and kid:  # the one caveat every reader must see: theirs first (Chinese output stays Chinese)
        for lg in ((lang, "zh") if lang == "en" else (lang,)):
            console.print("[yellow]" + t("verify_unpinned", lg, kid=kid[:16] + "…") + "[/yellow]", highlight=False)


@journal_app.command("verify")
def journal_verify(bundle: Annotated[Path | None, typer.Argument(help="An exported journal file; default: this registry's journal.")] = None,
                   key: KeyOpt = None, fingerprint: FingerprintOpt = None, checkpoint: CheckpointOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Check every entry, signature, checkpoint, Merkle proof and timestamp; name the first bad entry,
    and the key it trusted (pin one with --key/--fingerprint, and a kept checkpoint with --checkpoint)."""
    from inkseal.journal.timestamp import check_timestamp

    pinned, pinned_cp = _pins(key, fingerprint, checkpoint)
    try:
        if bundle is not None:
            text = bundle.read_text(encoding="utf-8", errors="strict")
            if is_subset(text):  # one work's entries with their inclusion proofs
                sub = Subset.from_jsonl(text)
                if pinned is not None and len(pinned) < 64:
                    pinned = next((k for k in [*sub.public_keys, sub.checkpoint.key_id] if k.startswith(pinned)), pinned)
                report = verify_subset(sub, check_timestamp, pinned_key=pinned, pinned_checkpoint=pinned_cp)
                _report_journal(report, pinned, as_json)
                return
            b = Bundle.from_jsonl(text)
        else:
            b = state.app().journal.bundle()
        if pinned is not None and len(pinned) < 64:  # a fingerprint prefix: the full id of the key it names
            pinned = next((k for k in [*b.public_keys, *(c.key_id for c in b.checkpoints)] if k.startswith(pinned)),
                          pinned)
        report = verify_bundle(b, timestamp_checker=check_timestamp, pinned_key=pinned, pinned_checkpoint=pinned_cp)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        if as_json:
            _emit({"ok": False, "problems": [{"entry": None, "message": str(exc)}]})
        else:
            err.print(f"[red]FAIL[/red] {exc} / 日志文件无法读取", highlight=False)
        raise typer.Exit(1) from None
    _report_journal(report, pinned, as_json)


def _report_journal(report, pinned: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        _emit(report.as_dict())
    else:
        _say_whose_key(report.trusted_key, None, pinned, as_err=not report.ok)
        if len(report.key_chain) > 1:
            out.print("key rotations / 密钥轮换: " + " → ".join(k[:16] + "…" for k in report.key_chain), highlight=False)
        if report.ok:
            out.print(f"[green]OK[/green] {report.entries} entries, {report.checkpoints} signed checkpoint(s), "
                      f"root {report.root_hash}" + (f"; pinned checkpoint of {report.pinned_checkpoint} entries holds"
                                                    if report.pinned_checkpoint is not None else ""), highlight=False)
    if not report.ok and not as_json:
        where = f" first bad entry: #{report.first_bad_entry}" if report.first_bad_entry is not None else ""
        err.print(f"[red]FAIL / 校验失败[/red]{where}", highlight=False)
        for p in report.problems:
            err.print(f"  {p.message}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@journal_app.command("export")
def journal_export(output: Annotated[Path, typer.Option("-o", "--output")],
                   work: Annotated[int | None, typer.Option(help="Only this work's entries, each with its RFC 9162 "
                                                            "inclusion proof against the latest signed checkpoint "
                                                            "(other works' entries stay private).")] = None) -> None:
    """Write the journal (or one work's entries) as one self-contained JSONL file, verifiable offline."""
    from inkseal.journal.log import export_subset

    ink = state.app()
    if work is None:
        text = ink.journal.bundle().to_jsonl()
    else:
        seqs = {e["seq"] for e in ink.journal.entries(work)}
        if not seqs:
            _fail(f"work {work} has no journal entries / 作品 {work} 没有创作日志记录")
        try:
            sub = export_subset(ink.journal.bundle(), seqs, f"work {work}")
        except ValueError as exc:
            _fail(str(exc))
        if len([e for e in sub.entries if e.seq in seqs]) < len(seqs):
            err.print("[yellow]some entries are newer than the latest checkpoint and were left out: run "
                      "`inkseal journal checkpoint` first / 部分记录晚于最新检查点，未导出[/yellow]", highlight=False)
        text = sub.to_jsonl()
    output.write_text(text, encoding="utf-8")
    out.print(f"wrote {output}", highlight=False)


@journal_app.command("list")
def journal_list(work: Annotated[int | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    """List journal entries."""
    entries = state.app().journal.entries(work)
    if as_json:
        _emit(entries)
        return
    from inkseal.journal.showgen import safe

    for e in entries:  # tool and file names come from the files: shown inert
        d = e["data"]
        what = d.get("generation", {}).get("tool") if e["kind"] == "generation" else d.get("action", "")
        again = "  (re-read / 重新解析)" if d.get("reparse_of") else ""
        out.print(f"#{e['seq']:<4} {e['time']}  {e['kind']:<10} work {e['work_id']}  {safe(what or '')}  "
                  f"{safe(d.get('file_name', ''))}{again}", highlight=False)


@journal_app.command("show")
def journal_show(entry: int, as_json: JsonOpt = False) -> None:
    """Show one journal entry: for a generation, the full prompt, negative prompt, every parameter per
    pass, LoRAs and labels (as `inspect` shows a file)."""
    from inkseal.journal.showgen import generation_lines, safe

    entries = state.app().journal.entries()
    if not 0 <= entry < len(entries):
        _fail(f"no journal entry #{entry} / 没有第 {entry} 条日志记录", code=2)
    e = entries[entry]
    if as_json:
        _emit(e)
        return
    lang = state.language
    d = e["data"]
    out.print(f"[bold]#{e['seq']}[/bold] {e['time']}  {e['kind']}  work {e['work_id']}  "
              f"{safe(d.get('file_name', ''))}  sha256 {e.get('file_sha256') or '-'}", highlight=False)
    if d.get("reparse_of"):
        out.print(f"  re-read of / 重新解析自: {', '.join('#' + str(s) for s in d['reparse_of'])}", highlight=False)
    gen = d.get("generation")
    if isinstance(gen, dict):
        for line in generation_lines(gen, lang):
            out.print(line, highlight=False)
    elif e["kind"] == "file":
        out.print("  no generation parameters found / 未发现生成参数", highlight=False)
    else:
        for key, value in d.items():
            if key != "raw_metadata":
                out.print(f"  {safe(key)}: {safe(value, 2000)}", highlight=False)
    raw = d.get("raw_metadata")
    if isinstance(raw, dict) and raw.get("unclaimed"):
        out.print("  raw metadata kept, not read by any importer / 原始元数据（未被解析）: "
                  + safe(", ".join(raw["unclaimed"])), highlight=False)
    for p in d.get("problems") or []:
        out.print(f"  [yellow]! {safe(p)}[/yellow]", highlight=False)


@journal_app.command("statement")
def journal_statement(work: int, output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the files.")] = Path("."),
                      lang: Annotated[str, typer.Option(help="en, zh or both.")] = "both",
                      as_json: JsonOpt = False) -> None:
    """Write the authorship statement of a work: HTML and PDF, English and Chinese."""
    langs = ("en", "zh") if lang == "both" else (lang,)
    try:
        paths = state.app().statement(work, output, langs)
    except InksealError as exc:
        _fail(str(exc))
    if as_json:
        _emit({k: {kk: str(vv) for kk, vv in v.items()} for k, v in paths.items()})
    else:
        for v in paths.values():
            for p in v.values():
                out.print(str(p), highlight=False)


@app.command()
def generate(
    model: Annotated[str, typer.Option(help="Local diffusers model folder (or an already-cached hub id).")],
    prompt: Annotated[str, typer.Option(help="Positive prompt.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the PNG.")],
    negative: Annotated[str, typer.Option(help="Negative prompt.")] = "",
    steps: int = 30, cfg: Annotated[float, typer.Option(help="CFG scale.")] = 7.0, seed: int = 0,
    width: int = 512, height: int = 512, work: Annotated[int | None, typer.Option()] = None,
    pass_file: PassFile = None, as_json: JsonOpt = False,
) -> None:
    """Generate with a local Stable Diffusion model and journal every parameter and every step."""
    from inkseal.journal.generate import load_pipeline, run

    ink = state.app()
    try:
        pipe = load_pipeline(model)
        result = run(pipe, model=model, prompt=prompt, negative_prompt=negative, steps=steps, cfg_scale=cfg, seed=seed,
                     width=width, height=height)
    except InksealError as exc:
        _fail(str(exc))
    output.write_bytes(result.image_png)
    pw = passphrase(pass_file, required=False)
    item = ink.journal.import_file(output, work_id=work, passphrase=pw)
    seq = ink.journal.append("generation", {"file_name": output.name, "generation": result.record, "recorder": True},
                             work_id=work, file_sha256=result.record["output_sha256"], passphrase=pw)
    if pw is not None:
        ink.journal.checkpoint(pw)
    if as_json:
        _emit({"output": str(output), "entry": seq, "import_entries": item.entries, "record": result.record})
    else:
        out.print(f"{output}  journal entry #{seq}  sha256 {result.record['output_sha256']}", highlight=False)


@journal_app.command("replay")
def journal_replay(entry: int, model: Annotated[str | None, typer.Option(help="Model folder, if it moved.")] = None,
                   as_json: JsonOpt = False) -> None:
    """Regenerate a recorded `inkseal generate` run and compare it step by step."""
    from inkseal.journal.generate import compare, load_pipeline, run

    ink = state.app()
    entries = ink.journal.entries()
    if not 0 <= entry < len(entries) or not entries[entry]["data"].get("recorder"):
        _fail(f"journal entry #{entry} is not a recorded `inkseal generate` run")
    rec = entries[entry]["data"]["generation"]
    try:
        pipe = load_pipeline(model or rec["model"])
        again = run(pipe, model=model or rec["model"], prompt=rec["prompts"][0],
                    negative_prompt=(rec["negative_prompts"] or [""])[0], steps=rec["steps"], cfg_scale=rec["cfg_scale"],
                    seed=rec["seed"], width=rec["width"], height=rec["height"])
    except InksealError as exc:
        _fail(str(exc))
    result = compare(rec, again.record)
    if as_json:
        _emit(result)
    elif result["identical"]:
        out.print(f"[green]identical[/green]: all {result['steps']} steps and the pixels match entry #{entry}", highlight=False)
    else:
        err.print(f"[red]differs[/red] from step {result['first_diverging_step']}; set-up differences: "
                  f"{result['setup_differences'] or 'none'}; weights match: {result['weights_match']}", highlight=False)
    if not result["identical"]:
        raise typer.Exit(1)


@keys_app.command("import-c2pa")
def keys_import_c2pa(chain: Annotated[Path, typer.Option(help="Certificate chain PEM, signing certificate first.")],
                     key: Annotated[Path, typer.Option(help="The signing certificate's private key (PEM, unencrypted).")],
                     creator: Annotated[str, typer.Option(help="Your name, for messages.")] = "creator",
                     pass_file: PassFile = None) -> None:
    """Use your own C2PA signing certificate instead of the local CA (the key is encrypted at rest)."""
    ink = state.app()
    try:
        ink.keys.init_c2pa(passphrase(pass_file, required=True) or "", creator, chain.read_bytes(), key.read_bytes())
    except (InksealError, ValueError, OSError) as exc:
        _fail(str(exc))
    out.print(f"C2PA signing credentials imported into {ink.keys.c2pa_dir}", highlight=False)


@app.command("evidence")
def evidence_cmd(
    args: Annotated[list[str], typer.Argument(help="MATCH to build a pack, or: verify PACK")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Pack folder, or a .zip file.")] = None,
    lang: Annotated[str, typer.Option(help="Report language: zh or en.")] = "zh",
    actual_loss: Annotated[float | None, typer.Option(help="Your actual loss (CNY), if known.")] = None,
    illegal_gains: Annotated[float | None, typer.Option(help="The infringer's gains (CNY), if known.")] = None,
    licence_fee: Annotated[float | None, typer.Option(help="Your price for one licensed use (CNY).")] = None,
    costs: Annotated[float, typer.Option(help="Reasonable costs of stopping the infringement (CNY).")] = 0.0,
    tsa: Annotated[str | None, typer.Option(help="RFC 3161 timestamp authority URL for the manifest.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a previous evidence pack at -o (never other files).")] = False,
    include_originals: Annotated[bool, typer.Option(
        "--include-originals", help="Also put the clean registered original in the pack (private by default: "
        "anyone holding the pack could then re-publish your unmarked picture).")] = False,
    include_watermark_key: Annotated[bool, typer.Option(
        "--include-watermark-key", help="Also put this work's watermark key and pre-watermark pixels in the pack, so "
        "that anyone can re-read the watermark; without it only you (the key holder) can, and the watermark fact "
        "says so. Whoever holds the key can also forge or strip this work's watermark.")] = False,
    audience: Annotated[str, typer.Option(
        "--for", help="court (default: the full pack) or platform (redacted: what a takedown needs, no journal, "
        "no damages, no demand letter; needs contact_name, contact_address, contact_email in config.toml).")] = "court",
    key: KeyOpt = None, fingerprint: FingerprintOpt = None, checkpoint: CheckpointOpt = None,
    pass_file: PassFile = None,
    as_json: JsonOpt = False,
) -> None:
    """`evidence MATCH -o PACK` builds a pack; `evidence verify PACK` rechecks one, offline, fact by fact
    (pin the author's key with --key/--fingerprint, a kept journal checkpoint with --checkpoint)."""
    if args[0] == "verify":
        if len(args) != 2:
            _fail("usage: inkseal evidence verify PACK", code=2)
        _evidence_verify(Path(args[1]), as_json, *_pins(key, fingerprint, checkpoint))
        return
    if len(args) != 1 or not args[0].isdigit() or output is None:
        _fail("usage: inkseal evidence MATCH -o PACK   |   inkseal evidence verify PACK", code=2)
    from inkseal.evidence.damages import DamagesInput
    from inkseal.evidence.pack import missing_contact

    if audience not in ("court", "platform"):
        _fail("--for is court or platform / --for 只能是 court 或 platform", code=2)
    ink = state.app()
    try:
        path = ink.evidence(int(args[0]), output, passphrase=passphrase(pass_file, required=True) or "", lang=lang,
                            damages=DamagesInput(actual_loss=actual_loss, illegal_gains=illegal_gains,
                                                 licence_fee=licence_fee, costs=costs),
                            as_zip=output.suffix == ".zip", tsa_url=tsa, force=force,
                            include_originals=include_originals, include_watermark_key=include_watermark_key,
                            for_platform=audience == "platform")
    except InksealError as exc:
        _fail(str(exc))
    gaps = missing_contact(ink.settings)
    if as_json:
        _emit({"pack": str(path), "drafts_need": gaps})
    else:
        out.print(f"evidence pack: {path}" if _lang() == "en" else f"证据包：{path}", highlight=False)
        if gaps:
            err.print("[yellow]" + (f"草稿中有待填写的空白：请在 config.toml 中设置 {', '.join(gaps)}" if _lang() == "zh"
                                    else f"the drafts have blanks to fill: set {', '.join(gaps)} in config.toml")
                      + "[/yellow]", highlight=False)


def _evidence_verify(pack: Path, as_json: bool, pinned: str | None = None, pinned_cp=None) -> None:  # type: ignore[no-untyped-def]
    from inkseal.evidence.verify import verify_lines, verify_pack

    report = verify_pack(pack, pinned_key=pinned, pinned_checkpoint=pinned_cp)
    lang = _lang()
    if as_json:
        _emit(report.as_dict())
    else:
        if report.signer:
            _say_whose_key(report.signer.get("key_id"), report.signer.get("name"), pinned)
        for line in verify_lines(report, lang):
            out.print(line, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


# Registered here, after keys_app exists, so that importing this module first works too.
import inkseal.cli_keys  # noqa: E402,F401  (adds `keys backup` / `keys restore`)
