"""Fuzz every operation of the OpenAPI document against the live server with schemathesis: no 5xx.

Bounded (a few examples per operation, no deadline, no example database) so the file stays well under a
minute on two cores. The fuzzing user owns a work with a match and a case, so generated ids sometimes hit
real objects."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from h9web import accounts_for, attacked_copy, client, live_server, user_with_token
from inkseal import Inkseal

EXAMPLES = 12


def test_openapi_fuzz_finds_no_server_error(tmp_path: Path, kodak: list[Path]) -> None:
    ink = Inkseal.open(tmp_path / "home")
    try:
        token = user_with_token(accounts_for(ink), "fuzz")
        auth = {"Authorization": f"Bearer {token}"}
        with live_server(ink) as base:
            with client(base, token) as c:
                assert c.post("/api/v1/works", files={"file": ("a.png", kodak[3].read_bytes(), "image/png")}).status_code == 201
                found = c.post("/api/v1/scans", files={"file": ("b.jpg", attacked_copy(kodak[3]), "image/jpeg")})
                assert found.json()["matches"]
            schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
            operations = [op.ok() for op in schema.get_all_operations()]
            operations.sort(key=lambda op: op.method.upper() == "DELETE")  # removals last: the others meet real ids
            assert len(operations) >= 10
            seen: dict[str, set[int]] = {}
            for op in operations:

                @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
                @given(case=op.as_strategy())
                def fuzz(case) -> None:  # type: ignore[no-untyped-def]
                    response = case.call(base_url=base, headers=auth, timeout=120)
                    seen.setdefault(op.label, set()).add(response.status_code)
                    case.validate_response(response, checks=[not_a_server_error])
                    assert b"Traceback" not in response.content

                fuzz()
            assert len(seen) == len(operations)
            assert any(200 <= code < 300 for code in seen["GET /api/v1/matches/{match_id}"])  # real ids were met
    finally:
        ink.close()
