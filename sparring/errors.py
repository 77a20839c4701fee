"""Errors a user can cause, reported as one clear line by the CLI."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user asked for (unknown game, bad spec, bad seat...).

    The CLI prints ``error: <message>`` and exits with status 2, never a traceback.
    The message should say what was wrong and list what is valid.
    """


def did_you_mean(name: str, valid: list[str]) -> str:
    """A short hint naming the closest valid choices, or an empty string."""
    import difflib

    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""
