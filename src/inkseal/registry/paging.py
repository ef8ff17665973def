"""Keyset pagination: listings stay cheap at any depth (no OFFSET scans)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select


def keyset_page(q: Select, id_col: Any, after_id: int | None, limit: int | None) -> Select:
    """One page of `q` in id order: rows after `after_id`, at most `limit`."""
    if after_id is not None:
        q = q.where(id_col > after_id)
    q = q.order_by(id_col)
    return q.limit(limit) if limit is not None else q
