"""The web layer's messages in English and Chinese (the i18n.py style: stable keys, en/zh pairs).

Every error leaves the server as {"error": {"en": ..., "zh": ...}}."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "not_found": ("no {kind} {id}", "无{kind_zh} {id}"),
    "no_route": ("nothing here: {path}", "此处无内容：{path}"),
    "method": ("method not allowed", "不允许的请求方法"),
    "sign_in": ("sign in first: a bearer token (Authorization: Bearer ...) or a session (POST /login)",
                "请先登录：使用令牌（Authorization: Bearer ...）或会话（POST /login）"),
    "bad_token": ("the token is unknown or revoked", "令牌无效或已被吊销"),
    "bad_login": ("wrong name or password", "用户名或密码错误"),
    "too_many_logins": ("too many failed sign-ins: wait {minutes} minutes", "登录失败次数过多：请等待 {minutes} 分钟"),
    "csrf": ("missing or wrong CSRF token (X-CSRF-Token header or csrf_token field)",
             "缺少或错误的 CSRF 令牌（X-CSRF-Token 请求头或 csrf_token 字段）"),
    "cross_origin": ("refused: this request came from another site ({origin})", "已拒绝：请求来自其他网站（{origin}）"),
    "bad_host": ("refused: unknown host name {host!r}", "已拒绝：未知主机名 {host!r}"),
    "too_large": ("upload too large: more than {limit:,} bytes", "上传内容过大：超过 {limit:,} 字节"),
    "bad_image": ("not an image we can read: {reason}", "无法读取的图片：{reason}"),
    "bad_request": ("invalid request: {reason}", "请求无效：{reason}"),
    "no_file": ("send the image in the multipart field {field!r}", "请在 multipart 字段 {field!r} 中上传图片"),
    "taken": ("these bytes are already registered by another account", "该文件已由其他账户登记"),
    "no_keys": ("you have no signing key yet: create your key first (the desk's Keys page, or POST /api/v1/keys "
                "with a passphrase)", "你还没有签名密钥：请先创建密钥（工作台的“密钥”页，或 POST /api/v1/keys，附口令）"),
    "keys_exist": ("you already have a signing key (key id {kid}…)", "你已有签名密钥（密钥 ID {kid}…）"),
    "refused": ("{reason}", "{reason}"),
    "internal": ("internal error: the request failed; nothing was changed by this message",
                 "内部错误：请求失败"),
}

KIND_ZH = {"work": "作品", "file": "文件", "match": "匹配", "case": "案件", "token": "令牌", "user": "用户"}


def message(key: str, **kw: object) -> dict[str, str]:
    en, zh = MESSAGES[key]
    if "kind" in kw:
        kw.setdefault("kind_zh", KIND_ZH.get(str(kw["kind"]), str(kw["kind"])))
    return {"en": en.format(**kw), "zh": zh.format(**kw)}


def split_reason(text: str) -> dict[str, str]:
    """The core's one-line reasons are often 'English / 中文': split them; else the same line for both."""
    en, sep, zh = text.partition(" / ")
    if sep and any("\u4e00" <= ch <= "\u9fff" for ch in zh):
        return {"en": en, "zh": zh}
    return {"en": text, "zh": text}


class ApiError(Exception):
    """An answer other than success: its HTTP status and its message in both languages."""

    def __init__(self, status: int, error: dict[str, str], headers: dict[str, str] | None = None) -> None:
        super().__init__(error["en"])
        self.status, self.error, self.headers = status, error, headers or {}
