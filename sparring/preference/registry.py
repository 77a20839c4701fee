"""From an oracle spec to an oracle: the programmatic ones (oracles.py) or a model (judges.py)."""

from __future__ import annotations

from sparring.preference.judges import make_judge
from sparring.preference.oracles import IntransitiveOracle, Oracle, ReferenceOracle, TaskOracle
from sparring.preference.specs import check_oracle_spec


def make_oracle(spec: str, device: str = "cpu") -> Oracle:
    """The oracle a spec names (``sparring.preference.oracles``); an unknown spec is a one-line ``UserError``."""
    check_oracle_spec(spec)
    kind, _, rest = spec.partition(":")
    if kind in ("model", "api", "rm"):
        return make_judge(kind, rest, device)
    return {"task": TaskOracle, "reference": ReferenceOracle, "intransitive": IntransitiveOracle}[kind]()
