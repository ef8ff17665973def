"""The FAISS indexes never disagree with the database, whatever happened in between."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete

from inkseal import Inkseal
from inkseal.imaging import load_image
from inkseal.registry.models import Fingerprint


def _ids(app: Inkseal, name: str) -> set[int]:
    return set(app.indexes[name].ids().tolist())


def test_index_follows_database_after_crash_between_commit_and_index(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[:2], author="A")
    # A "crash" after the database commit but before the index write: add a file behind the index's back.
    data = kodak[2].read_bytes()
    img = load_image(data)
    wid = app.registry.add_work("A", "late").id
    app.registry.add_file(wid, role="original", data=data, sha256=img.sha256, fmt="PNG", width=img.width,
                          height=img.height, fingerprints=app.fingerprints(img))
    # ...and a removal whose index update never happened.
    with app.registry.session() as s, s.begin():
        s.execute(delete(Fingerprint).where(Fingerprint.file_id == 1))
    app.close()

    reopened = Inkseal.open(home)
    for name in (reopened.sscd.name, "pdq"):
        assert _ids(reopened, name) == set(reopened.registry.fingerprint_ids(name))
    # and the late file is findable
    verdicts = reopened.match_image(data)
    assert verdicts and verdicts[0].work_id == wid
    reopened.close()


def test_deleted_or_corrupt_index_file_is_rebuilt(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[:3], author="A")
    expected = {n: _ids(app, n) for n in (app.sscd.name, "pdq")}
    app.close()
    (pdq_base,) = (home / "index").glob("pdq.*.faiss")
    pdq_base.unlink()
    (sscd_base,) = (home / "index").glob(f"{app.sscd.name}.*.faiss")
    sscd_base.write_bytes(b"garbage")
    reopened = Inkseal.open(home)
    assert {n: _ids(reopened, n) for n in expected} == expected
    counts = reopened.rebuild_index()
    assert counts == {n: len(v) for n, v in expected.items()}
    reopened.close()


def test_two_handles_see_each_others_registrations(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    first, second = Inkseal.open(home), Inkseal.open(home)
    first.register(kodak[:1], author="A")
    _ = second.indexes  # loaded now
    first.register(kodak[1:2], author="A")
    second.sync_indexes()
    assert len(second.indexes["pdq"]) == 2
    first.close()
    second.close()
