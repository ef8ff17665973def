"""Drive alembic on a live engine, step by step (downgrade / upgrade to a revision), as the registry does."""

from __future__ import annotations

from collections.abc import Callable

from alembic.config import Config
from sqlalchemy.engine import Engine

from inkseal.registry.store import MIGRATIONS


def migrator(engine: Engine) -> Callable[[Callable, str], None]:
    """`migrate(command.downgrade, "0013")`: each step in its own transaction on `engine`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def migrate(step: Callable, target: str) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, target)

    return migrate
