"""`inkseal audit DATASET -o REPORT_DIR`: a training-data audit on Ray Data (see inkseal.platform.audit).

Exit codes: 0 every item was checked; 1 some items could not be (each kind counted in the report);
3 the dataset cannot be audited at all (missing, no known layout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inkseal.cli import JsonOpt, _emit, _fail, _say, app, err, out, state
from inkseal.errors import one_line


@app.command("audit")
def audit(
    dataset: Annotated[Path, typer.Argument(help="A folder of images, WebDataset .tar shards, a Parquet/CSV of "
                                            "URLs (url, caption) or a Parquet with image bytes (image.bytes).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Report folder (re-running resumes into it).")],
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="A Ray cluster to run on "
                                                    "(default: a local one on this machine).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel workers (one CPU each).")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Check every item of a training dataset for copies of registered works and for opt-outs."""
    from inkseal.platform.audit.datasets import DatasetError
    from inkseal.platform.audit.report import write_report
    from inkseal.platform.audit.runner import AuditOptions, run_audit

    options = AuditOptions(home=state.home, workers=workers, ray_address=ray_address)
    if ray_address:  # joining a cluster fails for reasons of its own: say which, before any work
        from inkseal.platform.audit.runner import start_ray

        try:
            start_ray(options)
        except Exception as exc:  # noqa: BLE001 - Ray's errors (unreachable, refused token, version): one line
            first = one_line(exc)[:300]
            _fail(_say(f"cannot join the Ray cluster at {ray_address} ({type(exc).__name__}: {first}): check the "
                       "address, and for a cluster with token authentication set RAY_AUTH_MODE=token and its "
                       "RAY_AUTH_TOKEN (or ~/.ray/auth_token)",
                       f"无法加入 {ray_address} 的 Ray 集群（{type(exc).__name__}：{first}）：请检查地址；集群启用令牌认证时，"
                       "请设置 RAY_AUTH_MODE=token 及其 RAY_AUTH_TOKEN（或 ~/.ray/auth_token）"))
            return
    try:
        run = run_audit(dataset, output, options,
                        on_shard=lambda sid, n: err.print(_say(f"shard {sid}: {n} items", f"分片 {sid}：{n} 项"),
                                                          highlight=False))
    except DatasetError as exc:
        _fail(str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - Ray itself failed (cluster unreachable, ...): one line, shards kept
        first = one_line(exc)[:300]
        _fail(_say(f"audit stopped ({type(exc).__name__}: {first}); finished shards are kept, run again to resume",
                   f"审计中止（{type(exc).__name__}：{first}）；已完成的分片已保存，重新运行即可继续"))
        return
    summary = write_report(output, state.home)
    if as_json:
        _emit({"run": {"shards_total": run.shards_total, "shards_skipped": run.shards_skipped,
                       "shards_done": run.shards_done, "shards_failed": run.shards_failed,
                       "seconds": round(run.seconds, 1)}, "summary": summary,
               "report": str(output / "summary.html")})
    else:
        tiers = ", ".join(f"{tier} {n}" for tier, n in summary["registry"].items()) or "0"
        signals = ", ".join(f"{k} {v}" for k, v in summary["optouts"].items() if v) or "none"
        out.print(_say(
            f"{summary['items']} items: {summary['ok']} checked, {summary['errors_total']} failed; "
            f"registry matches: {tiers}; opted out: {summary['opted_out_items']} ({signals})",
            f"{summary['items']} 项：已检查 {summary['ok']}，失败 {summary['errors_total']}；"
            f"登记作品命中：{tiers}；含退出声明：{summary['opted_out_items']}（{signals}）"), highlight=False)
        if run.shards_skipped:
            out.print(_say(f"{run.shards_skipped} shard(s) already done, skipped",
                           f"{run.shards_skipped} 个分片已完成，已跳过"), highlight=False)
        for kind, n in summary["errors"].items():
            out.print(f"  {kind}: {n}", highlight=False)
        out.print(_say(f"report: {output / 'summary.html'}", f"报告：{output / 'summary.html'}"), highlight=False)
    if run.shards_failed:
        err.print(_say(f"{len(run.shards_failed)} shard(s) failed and were not recorded: run again to retry them",
                       f"{len(run.shards_failed)} 个分片失败且未记录：重新运行即可重试"), highlight=False)
    if summary["errors_total"] or run.shards_failed:
        raise typer.Exit(1)
