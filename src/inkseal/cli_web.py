"""`inkseal serve`, `inkseal worker`, `inkseal user add|list` and `inkseal token create|list|revoke`: the desk,
its background jobs and its accounts.

Single-user install: with no account that has a password, `inkseal serve` on a loopback address (the
default 127.0.0.1) signs every local request in as the passwordless `local` user, who owns every work
without an owner. Listening anywhere else needs accounts: the server refuses to start until
`inkseal user add NAME --password-file F` has made one. Messages are inline en/zh pairs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inkseal.cli import JsonOpt, _emit, _fail, _say, app, err, out, state
from inkseal.errors import InksealError

user_app = typer.Typer(help="Accounts of the desk (inkseal serve).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (Authorization: Bearer ...).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def _accounts():  # type: ignore[no-untyped-def]
    from inkseal.registry.accounts import Accounts

    try:
        return Accounts(state.app().registry)
    except InksealError as exc:
        _fail(str(exc))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on. Anything but loopback needs accounts.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    proxy_headers: Annotated[bool, typer.Option("--proxy-headers", help="Behind a TLS proxy on this machine: trust "
                                                "its X-Forwarded-For/-Proto (secure cookies over https).")] = False,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Run background jobs in this server (default), "
                                         "or leave them to `inkseal worker`.")] = True,
    allow_private_targets: Annotated[bool, typer.Option(
        "--allow-private-targets", envvar="INKSEAL_WEB_ALLOW_PRIVATE_TARGETS",
        help="Let accounts point webhooks and URL scans at private/loopback addresses (off: public addresses only, "
             "except for the single-user local account).")] = False,
) -> None:
    """Start the desk: the REST API under /api/v1 (OpenAPI at /api/v1/openapi.json)."""
    import uvicorn

    from inkseal.web.app import create_app
    from inkseal.web.auth import is_loopback

    accounts = _accounts()
    if not accounts.has_login_users():
        if not is_loopback(host):
            _fail(_say(f"refusing to listen on {host} without accounts: anyone who can reach it would be signed in. "
                       "Add one first (inkseal user add NAME --password-file F) or keep --host 127.0.0.1",
                       f"没有账户时拒绝监听 {host}：任何能访问它的人都会自动登录。请先添加账户"
                       "（inkseal user add 名称 --password-file 文件）或使用 --host 127.0.0.1"), 2)
        local = accounts.local_user()
        err.print(_say(f"single-user desk: requests from this machine are signed in as '{local.name}'",
                       f"单用户模式：来自本机的请求以「{local.name}」身份登录"), highlight=False)
    web = create_app(state.app(), listen_host=host)
    web.state.run_jobs, web.state.allow_private_targets = worker, allow_private_targets
    shown = f"[{host}]" if ":" in host else host
    err.print(_say(f"desk on http://{shown}:{port}/  (API: /api/v1, OpenAPI: /api/v1/openapi.json)",
                   f"服务已启动 http://{shown}:{port}/（API：/api/v1，OpenAPI：/api/v1/openapi.json）"), highlight=False)
    uvicorn.run(web, host=host, port=port, proxy_headers=proxy_headers, forwarded_allow_ips="127.0.0.1",
                server_header=False, log_level="info")


@app.command("worker")
def worker_cmd(
    allow_private_targets: Annotated[bool, typer.Option(
        "--allow-private-targets", envvar="INKSEAL_WEB_ALLOW_PRIVATE_TARGETS",
        help="As `inkseal serve --allow-private-targets` (webhook deliveries, URL scans).")] = False,
) -> None:
    """Run the desk's background jobs (scans, seals, packs, webhook deliveries) in this process, for
    `inkseal serve --no-worker`. One worker per install. Stop it with Ctrl-C: a running job is marked
    interrupted."""
    from inkseal.web.jobs import JobQueue

    try:
        queue = JobQueue(state.app(), allow_private_targets=allow_private_targets)
    except InksealError as exc:
        _fail(str(exc))
    err.print(_say("worker running background jobs (Ctrl-C stops it)", "后台任务处理已启动（Ctrl-C 停止）"),
              highlight=False)
    queue.run_forever()


def _read_password(path: Path) -> str:
    """The first line of the file ('-': standard input), without its line ending."""
    try:
        text = sys.stdin.readline() if str(path) == "-" else path.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        _fail(_say(f"cannot read a password from {path}: {getattr(exc, 'strerror', None) or 'empty or not text'}",
                   f"无法从 {path} 读取密码"), 2)
    return text.rstrip("\r\n")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Sign-in name. 'local' gives the single-user account a password.")],
    password_file: Annotated[Path, typer.Option("--password-file", help="File whose first line is the password "
                                                "('-' reads standard input).")],
    admin: Annotated[bool, typer.Option("--admin", help="An administrator.")] = False,
) -> None:
    """Add an account (passwords are stored as argon2id hashes)."""
    accounts = _accounts()
    try:
        user = accounts.add_user(name, _read_password(password_file), admin=admin)
    except InksealError as exc:
        _fail(str(exc))
    out.print(_say(f"user {user.id} '{user.name}' added" + (" (admin)" if user.is_admin else ""),
                   f"已添加用户 {user.id}「{user.name}」" + ("（管理员）" if user.is_admin else "")), highlight=False)


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """List accounts."""
    users = _accounts().users()
    if as_json:
        _emit([{"id": u.id, "name": u.name, "is_admin": u.is_admin, "local": u.is_local, "has_password": u.has_password}
               for u in users])
        return
    table = Table(*_say("ID Name Admin Sign-in", "编号 名称 管理员 登录").split())
    for u in users:
        table.add_row(str(u.id), u.name, _say("yes", "是") if u.is_admin else "",
                      _say("password", "密码") if u.has_password else _say("this machine, no password", "本机，无密码"))
    out.print(table)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The account the token signs in as.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
) -> None:
    """Create an API token: printed once, only its SHA-256 is kept."""
    try:
        token_id, token = _accounts().create_token(name, label)
    except InksealError as exc:
        _fail(str(exc))
    err.print(_say(f"token {token_id} for '{name}' (shown once; keep it secret):",
                   f"用户「{name}」的令牌 {token_id}（只显示这一次，请妥善保管）："), highlight=False)
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list(name: Annotated[str | None, typer.Argument(help="Only this account's tokens.")] = None,
               as_json: JsonOpt = False) -> None:
    """List tokens (never the tokens themselves)."""
    rows = _accounts().tokens(name)
    if as_json:
        _emit(rows)
        return
    table = Table(*_say("ID User Label Created Last-used Revoked", "编号 用户 用途 创建 最近使用 已吊销").split())
    for r in rows:
        table.add_row(str(r["id"]), r["user"], r["label"], f"{r['created_at']:%Y-%m-%d %H:%M}",
                      f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "",
                      _say("yes", "是") if r["revoked"] else "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id (see `inkseal token list`).")]) -> None:
    """Revoke a token: it stops working at once."""
    try:
        _accounts().revoke_token(token_id)
    except InksealError as exc:
        _fail(str(exc))
    out.print(_say(f"token {token_id} revoked", f"令牌 {token_id} 已吊销"), highlight=False)
