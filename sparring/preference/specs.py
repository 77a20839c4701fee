"""Oracle specs, checked without loading anything: the config validates with this (no model, no network)."""

from __future__ import annotations

from sparring.errors import UserError, did_you_mean

KINDS = ("task", "reference", "intransitive", "model:PATH", "api:MODEL", "rm:PATH")
PLAIN = ("task", "reference", "intransitive")
LOADED = ("model", "api", "rm")


def check_oracle_spec(spec: str) -> None:
    """Refuse a malformed oracle spec in one line, before anything is loaded."""
    kind, _, rest = spec.partition(":")
    if (kind in PLAIN and not rest) or (kind in LOADED and rest):
        return
    plain = [k.split(":")[0] for k in KINDS]
    raise UserError(f"unknown oracle {spec!r}{did_you_mean(kind, plain)}; oracles: {', '.join(KINDS)}")
