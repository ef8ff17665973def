"""Issue 16 (part 4): C2PA soft-binding resolution. A sealed file's manifest is found again from a copy whose
metadata is gone: the keyless blind watermark's message is the soft binding's value, the registry maps it to
the manifest, the resolution API (C2PA's paths and shapes) and `inkseal binding` serve it, and the served
bytes are the very manifest store c2pa-python validates against the signed file."""

from __future__ import annotations

import base64
import io
import json
import socket
from pathlib import Path

import c2pa
import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image
from sqlalchemy import inspect
from typer.testing import CliRunner

import inkseal.cli_binding  # noqa: F401 - registers `binding` (cli.py imports it once the lead adds the line)
from h9web import accounts_for, client, live_server, user_with_token
from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.registry.bindings import ALGORITHMS, BadBinding, SoftBindings
from inkseal.registry.models import Base
from migrating import migrator
from inkseal.journal.keys import derive_blind_key
from inkseal.seal import blindmark
from inkseal.seal.c2pa_sign import ManifestInput, sign, sign_with_manifest, validate
from inkseal.seal.certs import make_credentials

ALG = "org.inkseal.blind.v2"
KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
runner = CliRunner()


def _png(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    pixels = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def _value(n: int) -> str:
    return base64.b64encode(n.to_bytes(8, "big")).decode()


def _registered(ink: Inkseal, tmp: Path, name: str, data: bytes) -> tuple[int, int]:
    path = tmp / name
    path.write_bytes(data)
    item = ink.register([path], author="Li").items[0]
    assert item.error is None, item.error
    return item.work_id, item.file_id  # type: ignore[return-value]


def _reader_json(fmt: str, stream: bytes, manifest: bytes | None, anchors: bytes) -> dict:
    ctx = c2pa.Context.from_dict({"trust": {"user_anchors": anchors.decode()}})
    with c2pa.Reader(fmt, io.BytesIO(stream), manifest_data=manifest, context=ctx) as reader:
        return json.loads(reader.json())


@pytest.fixture(scope="module")
def creds():  # type: ignore[no-untyped-def]
    return make_credentials("Li")


def test_the_registry_resolves_what_blindmark_writes() -> None:
    assert blindmark.ALG == ALG and ALGORITHMS == {ALG: 8}
    msg = bytes(range(8))
    assert blindmark.binding_value(msg) == base64.b64encode(msg).decode()


# -- c2pa_sign ------------------------------------------------------------------------------------------
def test_sign_with_manifest_gives_the_label_and_the_embedded_store(creds, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _png(1)
    m = ManifestInput(title="a.png", software_agent="tests", soft_binding={"alg": "org.inkseal.watermark.v1",
                                                                          "value": _value(1)},
                      soft_bindings=[{"alg": ALG, "value": _value(2)}])
    signed = sign_with_manifest(data, "PNG", m, creds.chain_pem, creds.leaf_key_pem)
    assert signed.manifest_label.startswith("urn:c2pa:")
    assert signed.manifest_bytes[4:8] == b"jumb" and signed.manifest_bytes in signed.data
    report = validate(signed.data, "PNG", creds.ca_cert_pem)
    assert report["state"] == "Trusted"
    bindings = [a["data"] for a in report["manifest"]["assertions"] if a["label"] == "c2pa.soft-binding"]
    assert [(b["alg"], b["blocks"][0]["value"]) for b in bindings] == [
        ("org.inkseal.watermark.v1", _value(1)), (ALG, _value(2))]  # the older single field still works
    store = _reader_json("image/png", signed.data, signed.manifest_bytes, creds.ca_cert_pem)
    assert store["active_manifest"] == signed.manifest_label and store["validation_state"] == "Trusted"
    for fmt, mime in (("JPEG", "image/jpeg"), ("WEBP", "image/webp")):  # the store is whole in every format
        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).save(buf, fmt)
        other = sign_with_manifest(buf.getvalue(), fmt, m, creds.chain_pem, creds.leaf_key_pem)
        assert _reader_json(mime, other.data, other.manifest_bytes, creds.ca_cert_pem)["validation_state"] == "Trusted"
        assert other.manifest_label != signed.manifest_label  # a new manifest, a new label
    # sign() keeps its old contract: the file's bytes, manifest embedded
    plain = sign(data, "PNG", ManifestInput(title="b.png", software_agent="tests"), creds.chain_pem, creds.leaf_key_pem)
    assert isinstance(plain, bytes) and validate(plain, "PNG", creds.ca_cert_pem)["state"] == "Trusted"


# -- registry (SQLite and PostgreSQL) ---------------------------------------------------------------------
def test_registry_adds_matches_and_serves_manifests(backend_app: Inkseal, tmp_path: Path) -> None:
    ink = backend_app
    w1, f1 = _registered(ink, tmp_path, "one.png", _png(11))
    w2, f2 = _registered(ink, tmp_path, "two.png", _png(12))
    sb = SoftBindings(ink.registry)
    sb.add(ALG, _value(7), w1, f1, "urn:c2pa:one", b"store one")
    sb.add(ALG, _value(7), w1, f1, "urn:c2pa:one", b"store one")  # again: nothing new
    sb.add(ALG, _value(7), w2, f2, "urn:c2pa:two", b"store two")  # the same value in a later manifest
    sb.add(ALG, _value(8), w2, f2, "urn:c2pa:three", b"store three")
    found = sb.matches(ALG, _value(7))
    assert [(m.manifest_label, m.work_id, m.file_id) for m in found] == [("urn:c2pa:two", w2, f2),
                                                                       ("urn:c2pa:one", w1, f1)]
    assert [m.manifest_label for m in sb.matches(ALG, _value(7), limit=1)] == ["urn:c2pa:two"]
    # one canonical form: URL-safe, unpadded, or '+' read as ' ' from a query string all find the row
    odd = (0xFBEF_0000_0000_0001).to_bytes(8, "big")
    sb.add(ALG, base64.b64encode(odd).decode(), w1, f1, "urn:c2pa:odd", b"store odd")
    for form in (base64.urlsafe_b64encode(odd).decode().rstrip("="), base64.b64encode(odd).decode().replace("+", " ")):
        assert [m.manifest_label for m in sb.matches(ALG, form)] == ["urn:c2pa:odd"]
    assert sb.matches(ALG, _value(9)) == []
    assert sb.manifest("urn:c2pa:two") == b"store two" and sb.manifest("urn:c2pa:nope") is None
    assert sb.manifest("urn:c2pa:\x00two") is None  # never reaches PostgreSQL, which refuses a NUL
    with pytest.raises(BadBinding):
        sb.add(ALG, _value(7), w1, f1, "urn:c2pa:\x00", b"store")
    for alg, value, words in [("com.example.other", _value(7), "unknown soft-binding algorithm"),
                              (ALG, "not base64!", "not base64"), (ALG, base64.b64encode(bytes(11)).decode(), "decodes to 11 bytes"),
                              (ALG, "A" * 500, "characters long")]:
        with pytest.raises(BadBinding, match=words) as exc:
            sb.matches(alg, value)
        assert "\n" not in str(exc.value) and " / " in str(exc.value)  # one line, English / Chinese
    # the manifest's bytes are checked against their name: damaged bytes are never served
    sha = ink.registry.objects.put(b"store three")
    ink.registry.objects.path(sha).write_bytes(b"store thrEE")
    assert sb.manifest("urn:c2pa:three") is None
    # a removed work takes its bindings along (foreign keys, cascade), the other work's stay
    ink.remove_work(w2)
    assert [m.manifest_label for m in sb.matches(ALG, _value(7))] == ["urn:c2pa:one"]
    assert sb.manifest("urn:c2pa:two") is None


def test_migration_0014_matches_the_model_and_goes_down_and_up(backend_app: Inkseal, tmp_path: Path) -> None:
    from test_h9_web_migration import _table_of

    engine = backend_app.registry.engine
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if _table_of(d) == "soft_bindings"] == []
    w, f = _registered(backend_app, tmp_path, "one.png", _png(21))
    SoftBindings(backend_app.registry).add(ALG, _value(1), w, f, "urn:c2pa:one", b"store")
    migrate = migrator(engine)

    migrate(command.downgrade, "0013")
    assert "soft_bindings" not in inspect(engine).get_table_names()
    migrate(command.upgrade, "head")
    assert SoftBindings(backend_app.registry).matches(ALG, _value(1)) == []  # dropped with its table
    assert len(backend_app.registry.works()) == 1  # and nothing else


# -- the resolution API, on a real server ----------------------------------------------------------------
def _signed_and_bound(ink: Inkseal, tmp: Path, creds, value: str) -> tuple[bytes, str, bytes]:  # type: ignore[no-untyped-def]
    m = ManifestInput(title="sealed.png", software_agent="tests", soft_bindings=[{"alg": ALG, "value": value}])
    signed = sign_with_manifest(_png(31, (128, 96)), "PNG", m, creds.chain_pem, creds.leaf_key_pem)
    work_id, file_id = _registered(ink, tmp, "sealed.png", signed.data)
    SoftBindings(ink.registry).add(ALG, value, work_id, file_id, signed.manifest_label, signed.manifest_bytes)
    return signed.data, signed.manifest_label, signed.manifest_bytes


def test_resolution_api_follows_the_c2pa_shapes_and_needs_no_sign_in(app: Inkseal, tmp_path: Path, creds) -> None:  # type: ignore[no-untyped-def]
    data, label, store = _signed_and_bound(app, tmp_path, creds, _value(0xC0FFEE))
    user_with_token(accounts_for(app), "ana")  # accounts exist: nobody is signed in by being local
    with live_server(app) as base, client(base) as anonymous:
        assert anonymous.get("/api/v1/works").status_code == 401  # the desk's own routes still need sign-in
        found = anonymous.get("/api/v1/c2pa/matches/byBinding", params={"alg": ALG, "value": _value(0xC0FFEE)})
        assert found.status_code == 200 and found.json() == {"matches": [{"manifestId": label, "similarityScore": 100}]}
        posted = anonymous.post("/api/v1/c2pa/matches/byBinding", params={"maxResults": "1"},
                                json={"alg": ALG, "value": _value(0xC0FFEE)})
        assert posted.json() == found.json()
        assert anonymous.get("/api/v1/c2pa/matches/byBinding",
                             params={"alg": ALG, "value": _value(1)}).json() == {"matches": []}
        for params, words in [({"alg": "com.example.x", "value": _value(1)}, "unknown soft-binding algorithm"),
                              ({"alg": ALG, "value": "%%%"}, "not base64"),
                              ({"alg": ALG, "value": _value(1)[:6]}, "decodes to 4 bytes"),
                              ({"alg": ALG, "value": _value(1), "maxResults": "0"}, "maxResults"),
                              ({"alg": ALG, "value": _value(1), "maxResults": "²"}, "maxResults")]:
            r = anonymous.get("/api/v1/c2pa/matches/byBinding", params=params)
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert words in error["en"] and error["zh"] != error["en"] and "\n" not in error["en"] + error["zh"]
        served = anonymous.get(f"/api/v1/c2pa/manifests/{label}")
        assert served.status_code == 200 and served.headers["content-type"] == "application/c2pa"
        assert served.content == store and served.content in data
        for r in (found, served):  # a verifier page of another site may read them; the other headers stay
            assert r.headers["access-control-allow-origin"] == "*" and r.headers["x-frame-options"] == "DENY"
        assert anonymous.get(f"/api/v1/c2pa/manifests/{label}", params={"returnActiveManifest": "true"}).content == store
        assert anonymous.get(f"/api/v1/c2pa/manifests/{label}",
                             params={"returnActiveManifest": "maybe"}).status_code == 400
        missing = anonymous.get("/api/v1/c2pa/manifests/urn:c2pa:00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and set(missing.json()["error"]) == {"en", "zh"}
        assert anonymous.get("/api/v1/c2pa/services/supportedAlgorithms").json() == {
            "watermarks": [{"alg": ALG}], "fingerprints": []}
        # the spec's own base path answers the same (a C2PA client given this desk's address + /v1)
        assert anonymous.get("/v1/matches/byBinding", params={"alg": ALG, "value": _value(0xC0FFEE)}).json() == found.json()
        assert anonymous.get(f"/v1/manifests/{label}").content == store
        # `inkseal binding --server` asks the same routes, from a home that knows nothing of them
        elsewhere, resolver = tmp_path / "elsewhere", f"{base}/api/v1/c2pa"
        asked = _run(elsewhere, "binding", "lookup", "--server", resolver, "--value", _value(0xC0FFEE), "--json")
        assert json.loads(asked.stdout)["matches"] == [{"manifest_label": label, "similarity_score": 100}]
        refused = _run(elsewhere, "binding", "lookup", "--server", resolver, "--value", "%%%")
        assert refused.exit_code == 2 and "not base64" in refused.output and "Traceback" not in refused.output
        fetched = tmp_path / "fetched.c2pa"
        assert _run(elsewhere, "binding", "manifest", label, "--server", resolver, "-o", str(fetched)).exit_code == 0
        assert fetched.read_bytes() == store
        assert _run(elsewhere, "binding", "manifest", label, "--server", resolver, "-o", str(fetched)).exit_code == 2
        unknown = _run(elsewhere, "binding", "manifest", "urn:c2pa:nope", "--server", resolver, "-o", str(tmp_path / "x"))
        assert unknown.exit_code == 1 and "no manifest" in unknown.output
    # what was served is the signed file's manifest store: c2pa-python validates the file with it, and the
    # store alone still carries a valid signature (only the asset's hash cannot be checked without the asset)
    assert _reader_json("image/png", data, served.content, creds.ca_cert_pem)["validation_state"] == "Trusted"
    alone = _reader_json("application/c2pa", served.content, None, creds.ca_cert_pem)
    assert alone["active_manifest"] == label
    assert {s["code"] for s in alone.get("validation_status") or []} <= {"assertion.dataHash.mismatch"}
    other = make_credentials("Mallory")  # a store signed by someone else is not Trusted under Li's anchor
    assert _reader_json("image/png", data, served.content, other.ca_cert_pem)["validation_state"] != "Trusted"


# -- the CLI ---------------------------------------------------------------------------------------------
def _run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--home", str(home), "--lang", "en", *args], catch_exceptions=False)


def test_cli_lookup_and_read(tmp_path: Path, creds) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    ink = Inkseal.open(home)
    try:
        _data, label, _store = _signed_and_bound(ink, tmp_path, creds, _value(42))
        # A marked picture whatever the reader makes of it: bind the last candidate its keyless read gives to a
        # manifest (with several candidates, `read` is shown to look up every one, not only the best).
        rgb = np.asarray(Image.open(KODAK / "kodim05.png").convert("RGB"))[:256, :384]
        picture = tmp_path / "copy.png"
        Image.fromarray(blindmark.embed_message(rgb, bytes(range(1, 9)))).save(picture)
        candidates = blindmark.read(np.asarray(Image.open(picture).convert("RGB"))).candidates
        assert candidates
        picked = blindmark.binding_value(candidates[-1].message)
        w, f = _registered(ink, tmp_path, "other.png", _png(52))
        SoftBindings(ink.registry).add(ALG, picked, w, f, "urn:c2pa:picked", b"store")
    finally:
        ink.close()
    text = _run(home, "binding", "lookup", "--alg", ALG, "--value", _value(42))
    assert text.exit_code == 0 and label in text.output
    as_json = json.loads(_run(home, "binding", "lookup", "--value", _value(42), "--json").stdout)
    assert [m["manifest_label"] for m in as_json["matches"]] == [label]
    assert "no manifest binds this value" in _run(home, "binding", "lookup", "--value", _value(43)).output
    bad = _run(home, "binding", "lookup", "--value", "!!")
    assert bad.exit_code == 2 and "not base64" in bad.output and "Traceback" not in bad.output

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    flat = tmp_path / "flat.png"
    Image.new("RGB", (120, 90), (128, 128, 128)).save(flat)
    r = _run(home, "binding", "read", str(broken), str(picture), str(flat))
    assert r.exit_code == 1  # the broken file failed, alone
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and "urn:c2pa:picked" in lines[0] and picked in lines[0]
    assert "flat" in lines[1] and "no mark read" in lines[1]
    assert "broken.png" in r.stderr and "Traceback" not in r.output
    js = json.loads(_run(home, "binding", "read", str(picture), str(flat), "--json").stdout)
    assert [m["manifest_label"] for m in js[0]["matches"]] == ["urn:c2pa:picked"] and js[1]["matches"] == []
    assert js[0]["read"]["alg"] == ALG
    # a resolver that cannot be reached fails the pictures that needed it, one line each, and nothing else
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v1/c2pa"  # bound, never listening: refused
        down = _run(home, "binding", "read", "--server", dead, str(picture), str(flat))
        gone = _run(home, "binding", "lookup", "--server", dead, "--value", _value(42))
    assert down.exit_code == 1 and "copy.png" in down.stderr and "flat" in down.stdout and "Traceback" not in down.output
    assert gone.exit_code == 3 and "127.0.0.1" in gone.output and len(gone.output.strip().splitlines()) == 1


# -- end to end: seal, strip, read, look up, fetch, validate ---------------------------------------------
def test_a_stripped_copy_finds_its_manifest(app: Inkseal, tmp_path: Path, creds) -> None:  # type: ignore[no-untyped-def]
    rgb = np.asarray(Image.open(KODAK / "kodim23.png").convert("RGB"))
    key = derive_blind_key(b"creator master key for tests.32b")
    work = app.registry.add_work("Li", "parrots")
    msg = blindmark.message(key, work.id)
    marked = blindmark.embed(rgb, key, work.id)
    buf = io.BytesIO()
    Image.fromarray(marked).save(buf, "PNG")
    value = blindmark.binding_value(msg)
    m = ManifestInput(title="parrots.png", software_agent="tests", soft_bindings=[{"alg": blindmark.ALG, "value": value}])
    signed = sign_with_manifest(buf.getvalue(), "PNG", m, creds.chain_pem, creds.leaf_key_pem)
    sealed = tmp_path / "parrots.png"
    sealed.write_bytes(signed.data)
    item = app.register([sealed], author="Li", work_id=work.id, role="published").items[0]
    assert item.error is None
    SoftBindings(app.registry).add(blindmark.ALG, value, work.id, item.file_id, signed.manifest_label,  # type: ignore[arg-type]
                                   signed.manifest_bytes)
    app.close()
    # the manifest and every label removed, pixels untouched (how far the mark survives crops and re-encoding
    # is blindmark's own tests' business: here the chain from a stripped copy back to its manifest is)
    stripped = tmp_path / "reposted.png"
    done = _run(tmp_path / "home", "metadata", "strip", str(sealed), "-o", str(stripped), "--drop-c2pa", "--drop-labels")
    assert done.exit_code == 0, done.output
    assert validate(stripped.read_bytes(), "PNG")["state"] == "Absent"
    r = _run(tmp_path / "home", "binding", "read", str(stripped), "--json")
    assert r.exit_code == 0, r.output
    [found] = json.loads(r.stdout)
    assert [x["manifest_label"] for x in found["matches"]] == [signed.manifest_label]
    ink = Inkseal.open(tmp_path / "home")
    try:
        with live_server(ink) as base, client(base) as anonymous:
            ids = anonymous.get("/api/v1/c2pa/matches/byBinding", params={"alg": blindmark.ALG, "value": value}).json()
            store = anonymous.get(f"/api/v1/c2pa/manifests/{ids['matches'][0]['manifestId']}").content
    finally:
        ink.close()
    assert _reader_json("image/png", signed.data, store, creds.ca_cert_pem)["validation_state"] == "Trusted"
