"""Parse the short strings users type for games and players.

Both use one shape, ``name[:arg,key=value,...]``: ``mcts:sims=200``,
``cfr:iters=500,variant=cfr+``, ``kuhn_poker:hands=5``, ``model:runs/x/checkpoints/step-40``.
A bare argument (no ``=``) is positional; values are read as int, float or
bool when they look like one, else kept as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparring.errors import UserError


@dataclass(frozen=True)
class Spec:
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [str(a) for a in self.args] + [f"{k}={v}" for k, v in self.kwargs.items()]
        return f"{self.name}:{','.join(parts)}" if parts else self.name


def parse_value(text: str) -> Any:
    """Read ``text`` as bool, int or float where it looks like one."""
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(text: str, *, what: str = "spec") -> Spec:
    """Split ``name:arg,key=value`` into a :class:`Spec`.

    Paths may contain commas rarely and colons on Windows never here; a value
    after ``:`` that contains no ``=`` and no ``,`` is taken whole, so
    ``model:/a/b:c`` keeps its path intact.
    """
    text = text.strip()
    if not text:
        raise UserError(f"empty {what}")
    name, sep, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise UserError(f"bad {what} {text!r}: it must start with a name")
    if not sep or not rest:
        return Spec(name)
    if "=" not in rest and "," not in rest:
        return Spec(name, (rest,))
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        key, eq, value = item.partition("=")
        if eq:
            if not key.strip():
                raise UserError(f"bad {what} {text!r}: {item!r} has no key before '='")
            kwargs[key.strip()] = parse_value(value.strip())
        elif kwargs:
            raise UserError(f"bad {what} {text!r}: positional {item!r} after key=value")
        else:
            args.append(parse_value(item))
    return Spec(name, tuple(args), kwargs)
