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


def one_line(exc: BaseException, *, with_type: bool = False) -> str:
    """An exception as one line for a user: its message's first line, or its type's name when it has no
    message (a library error can run to many lines, or be empty)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if with_type:
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return first or type(exc).__name__
