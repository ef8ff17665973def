"""The long fuzz run: 100,000+ hostile inputs through inkseal's decoders, importers and parsers.

    .venv/bin/python benchmarks/fuzz.py                     # 100,000 files + 10,000 texts, 2 workers
    .venv/bin/python benchmarks/fuzz.py --inputs 20000      # a shorter run
    .venv/bin/python benchmarks/fuzz.py --report-only       # re-tabulate what the state folder holds

The corpus and the checks are tests/fuzzcorpus.py's (the same ones `make test` runs a few thousand
of). Inputs are cut into shards; each shard runs in its own subprocess, with a 30-s alarm per input
and an address-space cap, and logs every input as it starts and ends to a JSON-lines file in the
state folder. So the run is resumable (shards already done are skipped; rerun the same command after
an interruption), and a worker that dies - a segfault in a C decoder, the kernel's OOM killer - is
recorded as a crash of the input it was on, and its shard goes on from the next input.

Writes the table to docs/benchmarks.md (the "fuzz" section, via doc_tables.write_section).
Targets: 0 crashes, 0 hangs over 30 s, peak RSS under 2 GB per worker.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src"), str(ROOT / "benchmarks")]

TEXT_EVERY = 10  # one text case (prompt / infotext / XMP / JSON) per 10 file cases


class Hang(Exception):
    pass


def _alarm(_sig: int, _frame: object) -> None:
    raise Hang


def run_worker(start: int, end: int, state: Path, timeout_s: int, seed: int) -> None:
    """Run inputs [start, end) and append one line per input to state/shard-<start>.jsonl."""
    import warnings

    import fuzzcorpus as fc

    warnings.simplefilter("ignore")
    log = state / f"shard-{start:07d}.jsonl"
    done, died = set(), None
    if log.exists():  # resume: skip what is done; an input begun but never finished killed its worker
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            if "i" in rec:
                done.add(rec["i"])
            elif "begin" in rec:
                died = rec["begin"] if rec["begin"] not in done else died
    out = log.open("a")
    if died is not None and died not in done:
        out.write(json.dumps({"i": died, "kind": "?", "crash": "worker process died on this input"}) + "\n")
        done.add(died)
    corpus = fc.Corpus(master_seed=seed)
    fc.run_case(corpus.case(0).data)  # warm-up: the first call imports inkseal (seconds); not an input's time
    signal.signal(signal.SIGALRM, _alarm)
    for i in range(start, end):
        if i in done:
            continue
        out.write(json.dumps({"begin": i}) + "\n")
        out.flush()
        text = i % TEXT_EVERY == TEXT_EVERY - 1
        rec: dict[str, object] = {"i": i}
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            if text:
                rec["kind"] = "text"
                rec["out"] = fc.run_text_case(random.Random(f"fuzz-text:{seed}:{i}"))
            else:
                case = corpus.case(i)
                rec["kind"], rec["op"] = case.format, case.op
                t0 = time.perf_counter()  # the input's time, not the time to build it
                rec["out"] = fc.run_case(case.data)
        except fc.Crash as exc:
            rec["crash"] = str(exc)[:500]
        except Hang:
            rec["hang"] = f"over {timeout_s} s"
        except BaseException as exc:  # noqa: BLE001 - the harness itself must record, not die
            rec["crash"] = f"harness: {type(exc).__name__}: {str(exc)[:300]}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        rec["s"] = round(time.perf_counter() - t0, 4)
        out.write(json.dumps(rec) + "\n")
    out.write(json.dumps({"shard_done": [start, end],
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}) + "\n")
    out.close()


def shard_done(log: Path) -> bool:
    return log.exists() and '"shard_done"' in log.read_text()[-300:]


def run_parent(args: argparse.Namespace) -> None:
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    total = args.inputs + args.inputs // (TEXT_EVERY - 1)  # so that file cases alone reach --inputs
    shards = [(a, min(total, a + args.shard)) for a in range(0, total, args.shard)]
    todo = [s for s in shards if not shard_done(state / f"shard-{s[0]:07d}.jsonl")]
    print(f"{len(shards)} shards of {args.shard}; {len(todo)} to run with {args.workers} workers", flush=True)
    cap = args.rss_cap_mb * 2 << 20  # address space, with room for the allocator's reservations

    def limit() -> None:
        os.nice(10)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    running: dict[tuple[int, int], subprocess.Popen[bytes]] = {}
    t0 = time.time()
    while todo or running:
        while todo and len(running) < args.workers:
            s = todo.pop(0)
            cmd = [sys.executable, __file__, "--worker", str(s[0]), str(s[1]), "--state", str(state),
                   "--timeout", str(args.timeout), "--seed", str(args.seed)]
            running[s] = subprocess.Popen(cmd, preexec_fn=limit, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        for s, proc in list(running.items()):
            if proc.poll() is None:
                continue
            del running[s]
            if not shard_done(state / f"shard-{s[0]:07d}.jsonl"):
                print(f"worker for shard {s} ended with {proc.returncode}: resuming it", flush=True)
                todo.insert(0, s)  # the rerun records the input it died on as a crash
            elif args.deadline_min and time.time() - t0 > args.deadline_min * 60:
                todo.clear()
        if args.deadline_min and time.time() - t0 > args.deadline_min * 60 and todo:
            print(f"deadline of {args.deadline_min} min reached: {len(todo)} shard(s) left for a rerun", flush=True)
            todo.clear()
    print(f"ran for {time.time() - t0:.0f} s", flush=True)
    (state / "wall.json").write_text(json.dumps({"wall_s": time.time() - t0}))  # for --report-only
    report(args, state, wall_s=time.time() - t0)


def report(args: argparse.Namespace, state: Path, wall_s: float | None = None) -> list[str]:
    per_format: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    crashes: list[dict] = []
    hangs: list[dict] = []
    peak_rss = 0
    slowest = (0.0, -1)
    n = shards = 0
    if wall_s is None and (state / "wall.json").exists():
        wall_s = json.loads((state / "wall.json").read_text())["wall_s"]
    for log in sorted(state.glob("shard-*.jsonl")):
        seen: set[int] = set()
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            if "shard_done" in rec:
                shards += 1
                peak_rss = max(peak_rss, int(rec["peak_rss_mb"]))
                continue
            if "i" not in rec or rec["i"] in seen:
                continue
            seen.add(rec["i"])
            n += 1
            kind = str(rec.get("kind", "?")).replace("+metadata", " (metadata mutants)")
            per_format[kind] += 1
            if rec.get("s", 0) > slowest[0]:
                slowest = (rec["s"], rec["i"])
            if "crash" in rec:
                crashes.append(rec)
            elif "hang" in rec:
                hangs.append(rec)
            elif isinstance(rec.get("out"), dict):
                for entry, v in rec["out"].items():
                    outcomes[f"{entry}: {v.replace('error:', 'error ').replace('ok:', 'ok, generations ')}"] += 1
            else:
                outcomes[f"text {rec.get('out')}"] += 1
    lines = [
        "## Fuzz",
        "",
        f"`benchmarks/fuzz.py`: {n:,} hostile inputs (deterministic corpus of tests/fuzzcorpus.py, master seed "
        f"{args.seed}) through `load_image`, `read_metadata` + `import_metadata` (what `journal import` and "
        "`inspect` run) with the result written as canonical JSON, XMP / TC260 label parsing, and text cases "
        "through the prompt, infotext, XMP and JSON parsers. One subprocess per shard, a "
        f"{args.timeout}-s alarm per input, run niced on a shared 2-core machine."
        + (f" Wall time {wall_s / 60:.1f} min." if wall_s else ""),
        "",
        f"**Crashes: {len(crashes)}. Hangs over {args.timeout} s: {len(hangs)}. Peak RSS of a worker: "
        f"{peak_rss:,} MB** (targets: 0, 0, < 2,048 MB). Slowest input: {slowest[0]:.2f} s (case {slowest[1]}).",
        "",
        "| inputs by format | count |",
        "|---|---:|",
        *[f"| {k} | {v:,} |" for k, v in sorted(per_format.items(), key=lambda kv: -kv[1])],
        "",
        "| outcome by entry point (errors by type and reason) | count |",
        "|---|---:|",
        *[f"| {k} | {v:,} |" for k, v in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))[:40]],
    ]
    if crashes or hangs:
        lines += ["", "First failures (rebuild with `Corpus(seed).case(i)`):", ""]
        lines += [f"- case {r['i']}: {r.get('crash') or r.get('hang')}" for r in (crashes + hangs)[:15]]
    print("\n".join(lines))
    if not args.no_doc:
        from doc_tables import write_section

        write_section("fuzz", lines)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=100_000, help="file inputs (text inputs are added: one per 9)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard", type=int, default=2_000, help="inputs per worker subprocess")
    ap.add_argument("--timeout", type=int, default=30, help="seconds per input before it counts as a hang")
    ap.add_argument("--rss-cap-mb", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--state", default="/tmp/inkseal-fuzz", help="where shard logs go (resumable)")
    ap.add_argument("--deadline-min", type=float, default=0, help="stop starting shards after this long")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-doc", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    ap.add_argument("--worker", nargs=2, type=int, metavar=("START", "END"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_worker(args.worker[0], args.worker[1], Path(args.state), args.timeout, args.seed)
    elif args.report_only:
        report(args, Path(args.state))
    else:
        run_parent(args)


if __name__ == "__main__":
    main()
