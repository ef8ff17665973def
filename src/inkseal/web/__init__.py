"""The creator's desk: `inkseal serve` (FastAPI + uvicorn) over the one `inkseal.app.Inkseal` object.

    app.py    create_app(home or Inkseal) -> FastAPI: middlewares, error handlers, routers
    auth.py   who is asking: bearer token, session cookie (+ CSRF), or the local user; login, logout
    scope.py  one user's view of the application: owned ids only (another user's object is 404)
    api.py    the REST API under /api/v1 (OpenAPI at /api/v1/openapi.json)
"""

from inkseal.web.app import create_app

__all__ = ["create_app"]
