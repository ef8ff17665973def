"""One user's view of the application: the same `Inkseal` methods, with every id checked for ownership.

An id the user does not own answers exactly like an id that does not exist (404, "no work 5"), so ids
reveal nothing about other accounts. The matcher a user's scan or inspection runs with reports only the
user's works (`OwnedMatcher`), and `UserScope` satisfies `inkseal.services.InspectContext`, so
`seal.inspect.inspect_bytes` sees only the user's works too.

Scans, registrations, removals and inspections touch the in-process search indexes and the matcher's
caches, which are not made for concurrent writers: they run one at a time under `WORK_LOCK`. Plain reads
(listings, one object) go straight to the database.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from inkseal.registry.accounts import Account, Accounts
from inkseal.web.messages import ApiError, message

if TYPE_CHECKING:
    from inkseal.app import AuthorView, Inkseal
    from inkseal.config import Settings
    from inkseal.journal.keys import KeyStore
    from inkseal.match.matcher import Matcher, Verdict
    from inkseal.registry.models import Case, Match, Work, WorkFile
    from inkseal.registry.store import Registry

WORK_LOCK = threading.RLock()


class OwnedMatcher:
    """The application's matcher, looking only at `works` (every other attribute is the matcher's): other
    accounts' works are left out before verification (`Matcher.match(only_works=...)`)."""

    def __init__(self, matcher: Matcher | OwnedMatcher, works: Collection[int]) -> None:
        works = frozenset(works)
        if isinstance(matcher, OwnedMatcher):  # inside `owned_matching` the app's matcher already is one
            works, matcher = works & matcher._works, matcher._matcher
        self._matcher, self._works = matcher, works

    def match(self, image: Any, **kw: Any) -> list[Verdict]:
        return self._matcher.match(image, only_works=self._works, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._matcher, name)


def author_of(ink: Inkseal, user: Account) -> Inkseal | AuthorView:
    """Whose keys sign for `user`: the install's own (the local user) or the account's (everyone else)."""
    return ink.author(None if user.is_local else user.id)


def not_found(kind: str, object_id: int) -> ApiError:
    return ApiError(404, message("not_found", kind=kind, id=object_id))


class UserScope:
    def __init__(self, ink: Inkseal, accounts: Accounts, user: Account) -> None:
        self.ink, self.accounts, self.user = ink, accounts, user

    # -- InspectContext ------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.ink.settings

    @property
    def registry(self) -> Registry:
        return self.ink.registry

    @property
    def author(self) -> Inkseal | AuthorView:
        """The application as this user's author: their own keys and journal (`Inkseal.author`). The single
        local user keeps the install's $HOME/keys and journal, as the CLI does."""
        return author_of(self.ink, self.user)

    @property
    def keys(self) -> KeyStore:
        return self.author.keys

    def signing_author(self) -> Inkseal | AuthorView:
        """`author`, refused with 409 while the user has no signing key yet (POST /api/v1/keys)."""
        author = self.author
        if not author.keys.exists():
            raise ApiError(409, message("no_keys"))
        return author

    @property
    def matcher(self) -> OwnedMatcher:
        return OwnedMatcher(self.ink.matcher, self.accounts.owned_work_ids(self.user))

    def works(self, after_id: int | None = None, limit: int | None = None) -> list[Work]:
        return self.accounts.owned_works(self.user, after_id, limit)

    def work(self, work_id: int) -> Work:
        if not self.accounts.owns_work(self.user, work_id):
            raise not_found("work", work_id)
        return self.ink.work(work_id)

    # -- other objects, through their work ----------------------------------------------------------
    def _through_work(self, kind: str, object_id: int) -> None:
        work_id = self.accounts.work_of(kind, object_id)
        if work_id is None or not self.accounts.owns_work(self.user, work_id):
            raise not_found(kind, object_id)

    def file(self, work_id: int, file_id: int) -> WorkFile:
        work = self.work(work_id)
        wf = next((f for f in work.files if f.id == file_id), None)
        if wf is None:
            raise not_found("file", file_id)
        return wf

    def match(self, match_id: int) -> Match:
        self._through_work("match", match_id)
        return self.ink.registry.match(match_id)

    def case(self, case_id: int) -> Case:
        self._through_work("case", case_id)
        return self.ink.case(case_id)

    def matches(self, status: str | None = None, work_id: int | None = None, *, after_id: int | None = None,
                limit: int | None = None) -> list[Match]:
        return self.accounts.owned_matches(self.user, status, work_id, after_id=after_id, limit=limit)

    def cases(self, work_id: int | None = None, status: str | None = None, *, after_id: int | None = None,
              limit: int | None = None) -> list[Case]:
        return self.accounts.owned_cases(self.user, work_id, status, after_id=after_id, limit=limit)
