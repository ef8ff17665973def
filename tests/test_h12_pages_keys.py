"""The Keys page: an account sees it has no keys, creates them with a passphrase typed twice (CSRF checked,
mismatch and weak passphrases refused with one line, nothing created), then sees its key id and public key -
its own, not the install's or another account's - and can seal with them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from h9web import accounts_for, live_server
from inkseal import Inkseal

PASSWORD = "correct horse battery"


def sign_in(c: httpx.Client, name: str) -> str:
    assert c.post("/login/page", data={"name": name, "password": PASSWORD}).status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)


def test_an_account_creates_and_sees_its_own_keys(tmp_path: Path) -> None:
    ink = Inkseal.open(tmp_path / "home")
    accounts = accounts_for(ink)
    ana, bo = accounts.add_user("ana", PASSWORD), accounts.add_user("bo", PASSWORD)
    ink.author(bo.id).keys.init("bo's own passphrase", creator="Bo")
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=120) as c:
        token = sign_in(c, "ana")
        page = c.get("/keys")
        assert page.status_code == 200 and 'id="create-keys"' in page.text and 'href="/keys"' in page.text
        assert c.post("/keys", data={"passphrase": "long enough", "again": "long enough",
                                     "csrf_token": "forged"}).status_code == 403
        mismatch = c.post("/keys", data={"passphrase": "long enough", "again": "long enougH", "csrf_token": token})
        assert mismatch.status_code == 422 and "differ" in mismatch.text
        weak = c.post("/keys", data={"passphrase": "short", "again": "short", "csrf_token": token})
        assert weak.status_code == 422 and "8 characters" in weak.text
        assert not ink.author(ana.id).keys.exists()

        made = c.post("/keys", data={"passphrase": "ana's passphrase", "again": "ana's passphrase",
                                     "csrf_token": token})
        assert made.status_code == 303 and made.headers["location"] == "/keys"
        mine = ink.author(ana.id).keys
        shown = c.get("/keys").text
        assert mine.key_id() in shown and ink.author(bo.id).keys.key_id() not in shown
        assert "BEGIN PUBLIC KEY" in shown and "PRIVATE" not in shown and 'id="create-keys"' not in shown
        assert not ink.keys.exists()  # the install's own keys were not made for her
        mine.private("ana's passphrase")  # the passphrase typed on the page unlocks them

        c.cookies.set("inkseal_lang", "zh")
        assert "您的签名密钥" in c.get("/keys").text
