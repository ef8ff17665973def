"""Monitors: watch sites, feeds and pages for copies of registered works.

    inkseal monitor add URL --kind site|feed|page [--every 1d] [--max-pages N]
    inkseal monitor run [--due] [ID]          (cron calls `monitor run --due`)

A run discovers candidate pages (providers.py; the crawler in crawl.py reads robots.txt, sitemaps,
feeds and listing pages), fetches them politely and conditionally (polite.py), scans the new or changed
ones with the application's own scan, re-checks known cases, and sends one digest (notify.py).
Settings: monitor.toml beside config.toml (settings.py). State: registry/monitors.py (migration 0010).
"""
