"""`inkseal keys backup` / `inkseal keys restore`: every key as one passphrase-encrypted file.

The journal signing key, the C2PA CA and signer credentials and the watermark master key live in
$INKSEAL_HOME/keys. Without them, new entries cannot be signed, new seals are not trusted by the
old anchor, and the watermark in published copies can no longer be read: back up after `keys init`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from inkseal.cli import _fail, _say, out, state
from inkseal.cli_journal import PassFile, _journal_is_signed, keys_app, passphrase
from inkseal.errors import InksealError


@keys_app.command("backup")
def keys_backup(output: Annotated[Path, typer.Option("-o", "--output", help="The backup file to write.")],
                pass_file: PassFile = None,
                force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False) -> None:
    """Write every key (journal, C2PA, watermark) into ONE file encrypted with your passphrase."""
    ink = state.app()
    try:
        data = ink.keys.backup(passphrase(pass_file, required=True) or "")
    except InksealError as exc:
        _fail(str(exc))
    try:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        with os.fdopen(os.open(output, flags, 0o600), "wb") as fh:
            fh.write(data)
    except FileExistsError:
        _fail(_say(f"{output} exists: pass --force to replace it", f"{output} 已存在：如需覆盖请加 --force"))
    except OSError as exc:
        _fail(_say(f"cannot write {output}: {exc.strerror or exc}", f"无法写入 {output}：{exc.strerror or exc}"))
    out.print(_say(f"wrote {output}: every key, encrypted with your passphrase. Keep it off this machine; "
                   "it is useless without the passphrase, and the passphrase cannot be recovered.",
                   f"已写入 {output}：全部密钥，已用口令加密。请将其保存在本机之外；没有口令无法使用，口令无法找回。"),
              highlight=False)


@keys_app.command("restore")
def keys_restore(backup: Annotated[Path, typer.Argument(help="A file written by `inkseal keys backup`.")],
                 pass_file: PassFile = None,
                 force: Annotated[bool, typer.Option("--force", help="Replace keys already in this home.")] = False) -> None:
    """Restore every key from a backup into this home (refuses to replace existing keys without --force)."""
    ink = state.app()
    try:
        data = backup.read_bytes()
    except OSError as exc:
        _fail(_say(f"cannot read {backup}: {exc.strerror or exc}", f"无法读取 {backup}：{exc.strerror or exc}"))
    try:
        signed = ink.keys.exists() and _journal_is_signed(ink)
        kid, files = ink.keys.restore(data, passphrase(pass_file, required=True) or "", force=force,
                                      keep_signing_key=signed)
    except InksealError as exc:
        _fail(str(exc))
    out.print(_say(f"restored {len(files)} key files into {ink.keys.directory} (journal key id {kid})",
                   f"已恢复 {len(files)} 个密钥文件到 {ink.keys.directory}（日志密钥 {kid}）"), highlight=False)
