"""Hostile input never reaches a user as a crash: a deterministic fuzz corpus through the real parsers.

Every case (see tests/fuzzcorpus.py) goes through `load_image`, `read_metadata` + `import_metadata`
(what `journal import` and `inspect` run), what the journal would store (canonical JSON), and XMP /
TC260 label parsing; text cases go through the prompt, infotext, XMP and JSON parsers. Each must
give a result or one of inkseal's own one-line errors, within a generous per-case time guard, and
the whole run must not grow the process's peak memory by more than a bound. A failure names the
case index: `Corpus().case(i)` rebuilds the exact bytes. The 100,000-input run is benchmarks/fuzz.py.
"""

from __future__ import annotations

import hashlib
import random
import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import fuzzcorpus as fc
from inkseal.errors import BadImage
from inkseal.seal.xmp import parse_xmp

BINARY_CASES = 2500  # + the seeds themselves; about 10-20 s on one shared core
TEXT_CASES = 800
CASE_TIMEOUT_S = 20  # a hang guard, not a timing assertion: real cases take milliseconds
MAX_RSS_GROWTH_MB = 1024


class Hang(Exception):
    pass


@contextmanager
def time_guard(seconds: int) -> Iterator[None]:
    """Interrupt a case that runs away (SIGALRM; the tests run in each worker's main thread)."""
    def on_alarm(_sig: int, _frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@pytest.fixture(scope="module")
def corpus() -> fc.Corpus:
    return fc.Corpus(master_seed=8)  # reads ../shared/data/sd-tools: fails if it is missing


def test_corpus_is_deterministic_and_covers_every_format(corpus: fc.Corpus) -> None:
    again = fc.Corpus(master_seed=8)
    for i in (0, 60, 61, 999, 2500):
        assert hashlib.sha256(corpus.case(i).data).digest() == hashlib.sha256(again.case(i).data).digest()
    formats = {corpus.case(i).format.split("+")[0] for i in range(400)}
    assert {"PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP"} <= formats
    ops = {corpus.case(i).op for i in range(400)}
    assert {"metadata", "header", "chunks", "truncate", "byte-flips"} <= ops
    assert any(n.startswith("sd-tools/") for n in corpus.names)


def test_fuzzed_files_give_a_result_or_one_line(corpus: fc.Corpus) -> None:
    before = peak_rss_mb()
    crashes: list[str] = []
    outcomes: dict[str, int] = {}
    for i in range(len(corpus.names) + BINARY_CASES):
        case = corpus.case(i)
        try:
            with time_guard(CASE_TIMEOUT_S):
                out = fc.run_case(case.data)
        except (fc.Crash, Hang) as exc:
            crashes.append(f"case {i} ({case.op} of {case.seed_name}): {exc}")
            continue
        for k, v in out.items():
            outcomes[f"{k}={v.split(':')[0]}"] = outcomes.get(f"{k}={v.split(':')[0]}", 0) + 1
    assert not crashes, "\n".join(crashes[:20])
    # the corpus exercises both sides of every entry point
    assert outcomes["load_image=ok"] > 100 and outcomes["load_image=error"] > 100, outcomes
    assert outcomes["import_metadata=ok"] == len(corpus.names) + BINARY_CASES  # import never fails a file
    assert outcomes.get("parse_xmp=ok", 0) > 10 and outcomes.get("parse_xmp=error", 0) > 5, outcomes
    assert peak_rss_mb() - before < MAX_RSS_GROWTH_MB


def test_fuzzed_text_gives_a_result_or_one_line() -> None:
    crashes, kinds = [], set()
    for i in range(TEXT_CASES):
        try:
            with time_guard(CASE_TIMEOUT_S):
                kinds.add(fc.run_text_case(random.Random(f"text:{i}")))
        except (fc.Crash, Hang) as exc:
            crashes.append(f"text case {i}: {exc}")
    assert not crashes, "\n".join(crashes[:20])
    assert {"prompt:ok", "infotext:ok", "xmp:ok", "xmp:error", "json:ok", "text:error:MetadataError"} <= kinds


# -- the audit's inspect findings, one by one ---------------------------------------------------------------
def test_malformed_xmp_is_a_finding_not_an_exception() -> None:
    packet = fc.xmp_packet()
    for broken in (packet.replace("</rdf:li>", "", 1), packet.replace("<rdf:RDF", "<rdf:RDF <", 1),
                   packet[: packet.index("</x:xmpmeta>") - 40] + "</x:xmpmeta>"):
        out = parse_xmp(broken)
        assert set(out) == {"xmp_error"} and "not well-formed" in str(out["xmp_error"])


def test_deeply_nested_label_json_is_refused() -> None:
    out = parse_xmp(fc.xmp_packet(fc.deep_text(5000)))
    assert "aigc" not in out and "nested" in str(out["aigc_error"])
    out = parse_xmp(fc.xmp_packet(fc.deep_text(3)))
    assert out["aigc_error"] == "TC260:AIGC is not a JSON object"
    assert parse_xmp(fc.xmp_packet())["aigc"]["ProduceID"] == "inkseal:work:1"


def test_xmp_entities_are_never_expanded() -> None:
    dtd = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
    # a DTD before the packet is cut off with everything outside <x:xmpmeta>: the entity is undefined
    before = parse_xmp(f'<?xml version="1.0"?>{dtd}<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    assert set(before) == {"xmp_error"} and "undefined entity" in str(before["xmp_error"])
    # one inside the packet is refused before the XML parser sees it
    inside = parse_xmp(f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{dtd}&b;</x:xmpmeta>')
    assert set(inside) == {"xmp_error"} and "DTD" in str(inside["xmp_error"])


def test_inspect_respects_max_bytes(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from inkseal.seal.inspect import inspect_bytes, inspect_path

    data = fc.generated_seeds()["xmp-label.png"]
    app.settings.max_bytes = len(data) - 1
    with pytest.raises(BadImage, match="file too large"):
        inspect_bytes(app, data)
    big = tmp_path / "big.png"
    big.write_bytes(data)
    with pytest.raises(BadImage, match="file too large"):
        inspect_path(app, big)
    app.settings.max_bytes = len(data)
    report = inspect_path(app, big)
    assert report["implicit_label"]["present"] and report["implicit_label"]["ProduceID"] == "inkseal:work:1"


def test_inspect_reports_malformed_xmp_as_a_finding(app) -> None:  # type: ignore[no-untyped-def]
    from inkseal.seal.inspect import inspect_bytes

    data = fc._png_text({"XML:com.adobe.xmp": fc.xmp_packet().replace("</rdf:li>", "", 1)})
    report = inspect_bytes(app, data)
    codes = [f["code"] for f in report["findings"]]
    assert "xmp_invalid" in codes and "label_missing" in codes
