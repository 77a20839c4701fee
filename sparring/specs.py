"""Parse the short strings users type for games and players.

Both use one shape, ``name[:arg,key=value,...]``: ``mcts:sims=200``,
``cfr:iters=500,variant=cfr+``, ``kuhn_poker:hands=5``, ``model:runs/x/checkpoints/step-40``.
A bare argument (no ``=``) is positional; values are read as int, float or
bool when they look like one, else kept as text. :func:`bind_spec` then checks
each value against the type its factory declares (``sims: int``), so a wrong
one is a one-line error instead of a crash deep in the player or game.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
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


SPEC_TYPES: dict[Any, str] = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}
"""The parameter types a spec can carry, with how an error message names them."""
_TYPE_NAMES = {t.__name__: t for t in SPEC_TYPES}


def spec_type(annotation: Any) -> Any:
    """The declared type of a factory parameter (``int`` or the string ``"int"`` under postponed annotations)."""
    return _TYPE_NAMES.get(annotation, annotation) if isinstance(annotation, str) else annotation


def typed_value(name: str, value: Any, kind: Any) -> Any:
    """``value`` as ``parse_value`` read it, converted to the declared ``kind``; ValueError if it is not one.

    An int is a number (``uct_c=2`` is 2.0); any value is text (``path=123`` is "123"); a
    parameter with no declared type, or one not in ``SPEC_TYPES``, passes as read.
    """
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and number and float(value).is_integer():
        return int(value)
    if kind is float and number:
        return float(value)
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind not in SPEC_TYPES:
        return value
    raise ValueError(f"{name} must be {SPEC_TYPES[kind]}, not {value!r}")


def bind_spec(fn: Callable[..., Any], spec: Spec, *leading: Any, what: str) -> inspect.BoundArguments:
    """Bind ``fn(*leading, *spec.args, **spec.kwargs)`` with every spec value checked against its declared type.

    ``leading`` are the arguments the caller supplies itself (a player's game and seed), not checked.
    Unknown, missing or mistyped parameters raise one UserError line naming the valid parameters.
    """
    signature = inspect.signature(fn)
    given = [p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)][len(leading) :]
    names = ", ".join(p.name for p in given) or "none"

    def bad(reason: object) -> UserError:
        return UserError(f"bad {what} {str(spec)!r}: {reason}; parameters: {names}")

    try:
        bound = signature.bind(*leading, *spec.args, **spec.kwargs)
    except TypeError as err:
        raise bad(err) from None
    for param in given:
        if param.name in bound.arguments:
            try:
                bound.arguments[param.name] = typed_value(param.name, bound.arguments[param.name], spec_type(param.annotation))
            except ValueError as err:
                raise bad(err) from None
    return bound
