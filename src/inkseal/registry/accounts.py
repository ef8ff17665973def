"""Accounts: users, API tokens, browser sessions, and who owns each work.

    users ──< api_tokens      (sha256 of the token only; the token is shown once, at creation)
          ──< web_sessions    (sha256 of the session cookie; its CSRF token; expiry)
          ──< work_owners >── works   (one owner per work; matches, suspects and cases belong to
                                       their work's owner)

A work with no `work_owners` row (registered with the CLI, or before accounts existed) belongs to
the *local user*: the one account made by `inkseal serve` on a single-user install, with no
password. Giving that account a password (`inkseal user add local --password-file F`) keeps its
works. The web layer checks every id with `owns_work` / `work_of` and lists with `owned_*`, so another
user's object is simply absent ("no work 5"), never "forbidden".

Tables come from migration 0007 (registry/migrations/versions/0007_accounts.py). The models sit on
the registry's declarative Base, so `work_owners` can reference `works` with a cascading foreign key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (Boolean, DateTime, ForeignKey, Integer, Select, String, Text, delete, exists, func, inspect,
                        or_, select, update)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, mapped_column, selectinload

from inkseal.errors import InksealError, NotFound
from inkseal.registry.models import Base, Case, Match, Work, WorkFile, utcnow
from inkseal.registry.paging import keyset_page
from inkseal.registry.store import Registry

LOCAL_USER = "local"
SESSION_DAYS = 14
TOKEN_PREFIX = "isk_"  # recognisable in logs and secret scanners
_hasher = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 second recommendation)
# Verified against when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class User(Base):
    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # a removed user's id never names another user
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: the local user, no login
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A browser login: the cookie's sha256, the session's CSRF token, and when it ends (logout deletes it)."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkOwner(Base):
    __tablename__ = "work_owners"
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


ACCOUNT_TABLES = [m.__table__ for m in (User, ApiToken, WebSession, WorkOwner)]


@dataclass(frozen=True)
class Account:
    """A signed-in user as the web layer sees it (no ORM object leaves a session)."""

    id: int
    name: str
    is_admin: bool
    is_local: bool  # the single-user install's account ("local"): also owns works that have no owner row
    has_password: bool
    csrf_token: str | None = None  # set when signed in by session cookie


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt  # SQLite hands back naive UTC


def _account(u: User, csrf: str | None = None) -> Account:
    return Account(u.id, u.name, bool(u.is_admin), u.name == LOCAL_USER, u.password_hash is not None, csrf)


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InksealError("the password must have at least 8 characters / 密码至少需要 8 个字符")
    return _hasher.hash(password)


class Accounts:
    """Users, tokens, sessions and ownership over a Registry's database."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        present = set(inspect(registry.engine).get_table_names())
        missing = [t.name for t in ACCOUNT_TABLES if t.name not in present]
        if missing:
            raise InksealError(f"the database has no account tables ({', '.join(missing)}): migration 0007 is "
                               "missing / 数据库缺少账户表（缺少迁移 0007）")

    # -- users ------------------------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, admin: bool = False) -> Account:
        """A new user; or a password for the passwordless local user (keeping its works)."""
        name = name.strip()
        if not name or len(name) > 200 or any(ch.isspace() or ord(ch) < 32 for ch in name):
            raise InksealError("a user name is 1-200 characters without spaces / 用户名为 1-200 个字符，不含空格")
        hashed = hash_password(password)

        def attempt() -> Account:
            with self.registry.writing("accounts") as s:
                u = s.scalar(select(User).where(User.name == name))
                if u is not None and u.password_hash is not None:
                    raise InksealError(f"user {name!r} already exists / 用户 {name!r} 已存在")
                if u is None:
                    u = User(name=name, password_hash=hashed, is_admin=admin, created_at=utcnow())
                    s.add(u)
                else:
                    u.password_hash, u.is_admin = hashed, u.is_admin or admin
                s.flush()
                return _account(u)
        return self.registry.retrying("adding a user", attempt)

    def users(self) -> list[Account]:
        with self.registry.session() as s:
            return [_account(u) for u in s.scalars(select(User).order_by(User.id))]

    def user(self, name: str) -> Account:
        with self.registry.session() as s:
            u = s.scalar(select(User).where(User.name == name))
            if u is None:
                raise NotFound(f"no user {name!r} / 无用户 {name!r}")
            return _account(u)

    def has_login_users(self) -> bool:
        """True once any user has a password: from then on every request must sign in."""
        with self.registry.session() as s:
            return s.scalar(select(exists().where(User.password_hash.is_not(None)))) or False

    def local_user(self) -> Account:
        """The single-user install's account (created on first use; admin, no password)."""
        with self.registry.session() as s:  # the usual case: it exists, and reading takes no write lock
            u = s.scalar(select(User).where(User.name == LOCAL_USER))
            if u is not None:
                return _account(u)

        def attempt() -> Account:
            with self.registry.writing("accounts") as s:
                u = s.scalar(select(User).where(User.name == LOCAL_USER))
                if u is None:
                    u = User(name=LOCAL_USER, password_hash=None, is_admin=True, created_at=utcnow())
                    s.add(u)
                    s.flush()
                return _account(u)
        return self.registry.retrying("creating the local user", attempt)

    def check_password(self, name: str, password: str) -> Account | None:
        with self.registry.session() as s:
            u = s.scalar(select(User).where(User.name == name))
        stored = u.password_hash if u is not None else None
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return _account(u) if u is not None and stored else None

    # -- API tokens -------------------------------------------------------------------------------
    def create_token(self, user_name: str, label: str = "") -> tuple[int, str]:
        """A new bearer token for the user: (token id, the token). Only its sha256 is stored."""
        user = self.user(user_name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.registry.writing("accounts") as s:
            row = ApiToken(user_id=user.id, token_sha256=_sha256(token), name=label[:200], created_at=utcnow())
            s.add(row)
            s.flush()
            return row.id, token

    def revoke_token(self, token_id: int) -> None:
        with self.registry.writing("accounts") as s:
            if s.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked=True)).rowcount == 0:
                raise NotFound(f"no token {token_id} / 无令牌 {token_id}")

    def tokens(self, user_name: str | None = None) -> list[dict]:
        with self.registry.session() as s:
            q = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
            if user_name is not None:
                q = q.where(User.name == user_name)
            return [{"id": t.id, "user": n, "label": t.name, "created_at": t.created_at,
                     "last_used_at": t.last_used_at, "revoked": t.revoked} for t, n in s.execute(q)]

    def by_token(self, token: str) -> Account | None:
        digest = _sha256(token)
        with self.registry.session() as s:
            row = s.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.token_sha256 == digest, ApiToken.revoked.is_(False))).first()
        if row is None:
            return None
        tok, user = row
        now = utcnow()
        if tok.last_used_at is None or now - _utc(tok.last_used_at) > timedelta(minutes=1):  # not a write per request
            try:
                with self.registry.writing("accounts") as s:
                    s.execute(update(ApiToken).where(ApiToken.id == tok.id).values(last_used_at=now))
            except OperationalError:
                pass  # the database is busy: "last used" is a hint, the request goes on
        return _account(user)

    # -- browser sessions -------------------------------------------------------------------------
    def open_session(self, user_id: int) -> tuple[str, str]:
        """A new login: (cookie value, CSRF token)."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        with self.registry.writing("accounts") as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < now))  # expired ones go as new ones come
            s.add(WebSession(user_id=user_id, token_sha256=_sha256(cookie), csrf_token=csrf, created_at=now,
                             expires_at=now + timedelta(days=SESSION_DAYS)))
        return cookie, csrf

    def by_session(self, cookie: str) -> Account | None:
        with self.registry.session() as s:
            row = s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                            .where(WebSession.token_sha256 == _sha256(cookie))).first()
        if row is None or _utc(row[0].expires_at) < utcnow():
            return None
        return _account(row[1], row[0].csrf_token)

    def close_session(self, cookie: str) -> None:
        with self.registry.writing("accounts") as s:
            s.execute(delete(WebSession).where(WebSession.token_sha256 == _sha256(cookie)))

    # -- ownership ----------------------------------------------------------------------------------
    def set_owner(self, work_id: int, user_id: int) -> None:
        """Give a work its owner (once: a work that has one keeps it)."""
        def attempt() -> None:
            with self.registry.writing("accounts") as s:
                if s.get(WorkOwner, work_id) is None:
                    s.add(WorkOwner(work_id=work_id, user_id=user_id))
        self.registry.retrying("recording a work's owner", attempt)

    @staticmethod
    def owned(user: Account, work_id_col):  # type: ignore[no-untyped-def]
        """SQL condition: the work in `work_id_col` belongs to `user` (the local user also owns unowned works)."""
        if user.is_local:
            return ~exists().where(WorkOwner.work_id == work_id_col, WorkOwner.user_id != user.id)
        return exists().where(WorkOwner.work_id == work_id_col, WorkOwner.user_id == user.id)

    def owns_work(self, user: Account, work_id: int) -> bool:
        with self.registry.session() as s:
            return s.scalar(select(exists().where(Work.id == work_id, self.owned(user, Work.id)))) or False

    def owner_of(self, work_id: int) -> int | None:
        with self.registry.session() as s:
            return s.scalar(select(WorkOwner.user_id).where(WorkOwner.work_id == work_id))

    def owned_work_ids(self, user: Account) -> set[int]:
        with self.registry.session() as s:
            return set(s.scalars(select(Work.id).where(self.owned(user, Work.id))))

    # Listings: the registry's own queries (same eager loads, same keyset paging), with the owner condition.
    def owned_works(self, user: Account, after_id: int | None = None, limit: int | None = None) -> list[Work]:
        with self.registry.session() as s:
            q = select(Work).options(selectinload(Work.author), selectinload(Work.files)).where(self.owned(user, Work.id))
            return list(s.scalars(keyset_page(q, Work.id, after_id, limit)))

    def owned_matches(self, user: Account, status: str | None = None, work_id: int | None = None, *,
                      after_id: int | None = None, limit: int | None = None) -> list[Match]:
        """As Registry.matches: the latest sighting of each case (one row per case)."""
        with self.registry.session() as s:
            q: Select = select(Match).options(selectinload(Match.suspect),
                                              selectinload(Match.work).selectinload(Work.author))
            latest = select(func.max(Match.id)).where(Match.case_id.is_not(None)).group_by(Match.case_id)
            q = q.where(or_(Match.id.in_(latest), Match.case_id.is_(None)), self.owned(user, Match.work_id))
            if status:
                q = q.where(Match.status == status)
            if work_id:
                q = q.where(Match.work_id == work_id)
            return list(s.scalars(keyset_page(q, Match.id, after_id, limit)))

    def owned_cases(self, user: Account, work_id: int | None = None, status: str | None = None, *,
                    after_id: int | None = None, limit: int | None = None) -> list[Case]:
        with self.registry.session() as s:
            q = (select(Case).options(selectinload(Case.work).selectinload(Work.author), selectinload(Case.checks))
                 .where(self.owned(user, Case.work_id)))
            if work_id is not None:
                q = q.where(Case.work_id == work_id)
            if status:
                q = q.where(Case.status == status)
            return list(s.scalars(keyset_page(q, Case.id, after_id, limit)))

    def work_of(self, kind: str, object_id: int) -> int | None:
        """The work a match, case or file belongs to (None when there is no such object)."""
        col = {"match": (Match.work_id, Match.id), "case": (Case.work_id, Case.id),
               "file": (WorkFile.work_id, WorkFile.id)}[kind]
        with self.registry.session() as s:
            return s.scalar(select(col[0]).where(col[1] == object_id))

