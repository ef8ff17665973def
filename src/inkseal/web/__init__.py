"""The creator's desk: `inkseal serve` (FastAPI + uvicorn) over the one `inkseal.app.Inkseal` object.

    app.py    create_app(home or Inkseal) -> FastAPI: middlewares, error handlers, routers
    auth.py   who is asking: bearer token, session cookie (+ CSRF), or the local user; login, logout
    scope.py  one user's view of the application: owned ids only (another user's object is 404)
    api.py    the REST API under /api/v1 (OpenAPI at /api/v1/openapi.json)
    api_jobs.py   job, seal and evidence-pack routes (long work answers 202 + a job)
    jobs.py   background jobs: huey's consumer (inside `serve`, or `inkseal worker`), state in the `jobs` table
    webhooks.py   new matches POSTed to each account's webhooks, HMAC-signed, retried
    pages*.py, templates/, static/   the server-rendered pages (Jinja2, no inline script)
"""

from inkseal.web.app import create_app

__all__ = ["create_app"]
