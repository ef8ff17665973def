"""Keys are per user: on a shared desk each account creates its own signing keys (POST /api/v1/keys), its seals,
journal and evidence packs are signed with them, each journal verifies on its own, and nothing of one account
(key info, journal entries) reaches another. The single local user keeps $HOME/keys, as the CLI does."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from h10jobs import desk, wait_job
from h9web import accounts_for, attacked_copy, client, user_with_token
from inkseal import Inkseal
from inkseal.errors import InksealError
from inkseal.evidence.verify import verify_pack
from inkseal.journal.log import Bundle, verify_bundle

PASS_A, PASS_B = "ana's passphrase", "bo's passphrase!"


def _zh_en(r) -> dict:  # type: ignore[no-untyped-def]
    error = r.json()["error"]
    assert set(error) == {"en", "zh"} and error["en"] and error["zh"]
    return error


def test_each_account_signs_with_its_own_keys(app: Inkseal, kodak: list[Path], tmp_path: Path) -> None:
    accounts = accounts_for(app)
    token_a, token_b = user_with_token(accounts, "ana"), user_with_token(accounts, "bo")
    ana, bo = accounts.user("ana"), accounts.user("bo")
    with desk(app) as (base, _), client(base, token_a) as a, client(base, token_b) as b:
        work_a = a.post("/api/v1/works", files={"file": ("a.png", kodak[0].read_bytes(), "image/png")}).json()["id"]
        work_b = b.post("/api/v1/works", files={"file": ("b.png", kodak[1].read_bytes(), "image/png")}).json()["id"]

        # no key yet: sealing is refused at once, in both languages, and there is nothing to show
        refused = a.post(f"/api/v1/works/{work_a}/seal", json={"passphrase": PASS_A, "signature": "Ana"})
        assert refused.status_code == 409 and "key" in _zh_en(refused)["en"]
        assert a.get("/api/v1/keys").status_code == 404
        assert a.get("/api/v1/jobs").json()["items"] == []  # nothing was queued

        made_a = a.post("/api/v1/keys", json={"passphrase": PASS_A})
        made_b = b.post("/api/v1/keys", json={"passphrase": PASS_B, "creator": "Bo Studio"})
        assert made_a.status_code == made_b.status_code == 201, (made_a.text, made_b.text)
        kid_a, kid_b = made_a.json()["key_id"], made_b.json()["key_id"]
        assert kid_a != kid_b
        assert "CN=ana" in made_a.json()["certificate_subject"]
        assert "CN=Bo Studio" in made_b.json()["certificate_subject"]
        for r in (made_a, made_b, a.get("/api/v1/keys"), b.get("/api/v1/keys")):
            assert "PRIVATE" not in r.text and "passphrase" not in r.text  # never private material
        assert a.get("/api/v1/keys").json()["key_id"] == kid_a  # each sees their own only
        assert b.get("/api/v1/keys").json()["key_id"] == kid_b
        again = a.post("/api/v1/keys", json={"passphrase": PASS_A})
        assert again.status_code == 409 and kid_a[:16] in _zh_en(again)["en"]  # never overwritten
        assert a.post("/api/v1/keys", json={"passphrase": "short"}).status_code == 422

        # the keys live in each account's private folder, not in the install's $HOME/keys
        home = app.settings.home
        assert not app.keys.exists()
        for account, kid in ((ana, kid_a), (bo, kid_b)):
            keys = app.author(account.id).keys
            assert keys.directory == home / "accounts" / str(account.id) / "keys" and keys.key_id() == kid
            assert stat.S_IMODE(keys.directory.stat().st_mode) == 0o700
            assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in keys.directory.rglob("*") if f.is_file())

        # journals: each account's own, signed with its own key
        app.author(ana.id).journal.import_paths([kodak[0]], work_id=work_a, passphrase=PASS_A)
        app.author(bo.id).journal.import_paths([kodak[1]], work_id=work_b, passphrase=PASS_B)
        assert [e["work_id"] for e in a.get(f"/api/v1/works/{work_a}/journal").json()["items"]] == [work_a]
        assert [e["work_id"] for e in b.get(f"/api/v1/works/{work_b}/journal").json()["items"]] == [work_b]
        assert app.journal.entries() == []  # the install's own journal holds no account's entries
        for c, kid, work in ((a, kid_a, work_a), (b, kid_b, work_b)):
            checked = c.get("/api/v1/journal/verify").json()
            assert checked["ok"] is True and checked["key_chain"] == [kid], checked
            exported = Bundle.from_jsonl(c.get("/api/v1/journal/export").text)  # what `journal verify FILE` reads
            assert verify_bundle(exported).ok and {json.loads(e.payload)["work_id"] for e in exported.entries} == {work}

        # seal: each with its own passphrase; the other's passphrase does not open these keys
        wrong = wait_job(b, b.post(f"/api/v1/works/{work_b}/seal", json={"passphrase": PASS_A, "signature": "Bo"})
                         .json()["job_id"])
        assert wrong["state"] == "failed" and "passphrase" in wrong["error"]
        for c, work, pw, name in ((a, work_a, PASS_A, "Ana"), (b, work_b, PASS_B, "Bo")):
            sealed = wait_job(c, c.post(f"/api/v1/works/{work}/seal", json={"passphrase": pw, "signature": name})
                              .json()["job_id"])
            assert sealed["state"] == "done", sealed

        # packs: each verifies with its own key id and holds only its own journal entries
        for c, src, pw, kid, work in ((a, kodak[0], PASS_A, kid_a, work_a), (b, kodak[1], PASS_B, kid_b, work_b)):
            case = c.post("/api/v1/scans", files={"file": ("c.jpg", attacked_copy(src), "image/jpeg")}
                          ).json()["matches"][0]["case_id"]
            done = wait_job(c, c.post(f"/api/v1/cases/{case}/pack", json={"passphrase": pw, "lang": "en"})
                            .json()["job_id"])
            assert done["state"] == "done", done
            pack = tmp_path / f"pack-{work}.zip"
            pack.write_bytes(c.get(f"/api/v1/cases/{case}/pack").content)
            report = verify_pack(pack, pinned_key=kid)
            assert report.ok, report.as_dict()
            assert report.signer["key_id"] == kid
            with zipfile.ZipFile(io.BytesIO(pack.read_bytes())) as z:
                journal = next(n for n in z.namelist() if n.endswith("journal.jsonl"))
                lines = [json.loads(line) for line in z.read(journal).decode().splitlines() if line.strip()]
            payloads = [json.loads(x["payload"]) for x in lines if "payload" in x]
            assert payloads and {p["work_id"] for p in payloads} == {work}
            other = kid_b if kid == kid_a else kid_a
            assert other not in pack.read_bytes().decode("latin-1")  # the other account's key signed nothing here

    # each account's journal (entries, seal checkpoints) verifies on its own, under its own key only
    for account, kid in ((ana, kid_a), (bo, kid_b)):
        report = app.author(account.id).journal.verify()
        assert report.ok and report.key_chain == [kid], report.as_dict()


def test_the_local_user_keeps_the_installs_keys(app: Inkseal) -> None:
    with desk(app) as (base, _), client(base) as c:  # a one-user install: loopback, no account step
        made = c.post("/api/v1/keys", json={"passphrase": PASS_A})
        assert made.status_code == 201
        assert app.keys.exists() and app.keys.key_id() == made.json()["key_id"]  # $HOME/keys, the CLI's
        assert not (app.settings.home / "accounts").exists()


def test_an_accounts_journal_beside_either_registry(backend_app: Inkseal, kodak: list[Path]) -> None:
    """The account's journal is its own signed chain whatever database holds the works (SQLite or PostgreSQL);
    it only names works that exist there."""
    app = backend_app
    ana = accounts_for(app).add_user("ana", "correct horse battery")
    work = app.register([kodak[0]], author="ana").items[0].work_id
    author = app.author(ana.id)
    assert app.author(ana.id) is author  # one view per account, kept open
    kid = author.keys.init(PASS_A, creator="Ana")
    (item,) = author.journal.import_paths([kodak[0]], work_id=work, passphrase=PASS_A)
    assert item.entries and item.error is None
    with pytest.raises(InksealError, match=f"no work {work + 100}"):
        author.journal.append("note", {"text": "x"}, work_id=work + 100, passphrase=PASS_A)
    report = author.journal.verify()
    assert report.ok and report.key_chain == [kid] and report.entries == len(item.entries)
    assert app.journal.entries() == [] and not app.keys.exists()  # the install's own journal and keys: untouched
