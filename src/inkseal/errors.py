"""Errors a user can act on. Each carries a one-line reason, in the user's language at display time."""


class InksealError(Exception):
    """Base for expected failures: shown as one line, never as a traceback."""


class BadImage(InksealError):
    """The bytes are not an image we can read safely (empty, truncated, corrupt, a bomb, ...)."""


class NotFound(InksealError):
    pass


class SourceError(InksealError):
    """A scan source (page, archive, URL list) could not be read."""


class MetadataError(InksealError, ValueError):
    """Generation metadata in a file is malformed, too large or too deeply nested to read.

    Also a ValueError, so that parsers which treat "not valid JSON" as "not this format" keep doing so."""


def printable(text: str, limit: int | None = None) -> str:
    """Text safe to show on one line: control characters (a corrupt file's bytes, a terminal escape in hostile
    metadata) become spaces; cut to `limit` characters when given."""
    out = "".join(c if c.isprintable() else " " for c in text)
    return out if limit is None else out[:limit]


def one_line(exc: BaseException, *, with_type: bool = False, limit: int | None = None) -> str:
    """An exception as one line for a user: its message's first line, or its type's name when it has no
    message (a library error can run to many lines, or be empty); control characters shown as spaces."""
    text = str(exc).strip()
    first = printable(text.splitlines()[0], limit) if text else ""
    if with_type:
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return first or type(exc).__name__
