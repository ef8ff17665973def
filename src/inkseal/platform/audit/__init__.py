"""Training-data audits (issue 15 part 2): every item of a dataset checked for copies of registered works,
our watermark and each opt-out signal (C2PA / IPTC / TC260 in the file; TDMRep, robots.txt, ai.txt and
X-Robots-Tag on the site), run on Ray Data, written as Parquet + HTML + per-creator notices.

    datasets.py  the layouts (image folder, WebDataset tars, URL tables, Parquet with image bytes) -> shards
    optout.py    site-level opt-outs for URL items (robots.txt, ai.txt, TDMRep, X-Robots-Tag), one cache per worker
    signals.py   per-item findings from the bytes (registry match, watermark, C2PA, IPTC, TC260)
    runner.py    the Ray Data pipeline: one shard per task, the registry loaded once per worker; resumable
    report.py    findings.parquet, summary.html, notices/
"""
