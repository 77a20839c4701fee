"""Prompts with checkable answers: the data preference self-play learns from, and how an answer is checked.

A task is a prompt, optionally a reference answer (what SPIN imitates), and
programmatic checks on the answer the model writes inside ``\\boxed{}``:
``exact`` (arithmetic), or instruction constraints (``digits``, ``even``,
``between``, ...). Checks are data, so a JSONL file can carry its own; a task
without checks can still be judged by a model or a reward model.

Files: JSONL with one object a line (``prompt`` or ``question``; optional
``answer``, ``checks``, ``id``, ``meta``), or a Hugging Face ``datasets``
directory (``save_to_disk``) with the same columns. Every problem with a file
is a one-line :class:`UserError` naming the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.errors import UserError, did_you_mean

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "preference"
BUNDLED = {
    "bundled": ASSETS / "train.jsonl",
    "bundled-heldout": ASSETS / "heldout.jsonl",
    "bundled-intransitive": ASSETS / "intransitive.jsonl",
    "bundled-intransitive-heldout": ASSETS / "intransitive-heldout.jsonl",
}
"""Names for the bundled sets (made by ``python -m sparring.preference.make_tasks``)."""


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    """The user's message."""
    answer: str | None = None
    """A reference answer (the bare answer, e.g. ``7``); SPIN's chosen response is ``\\boxed{answer}``."""
    checks: tuple[dict[str, Any], ...] = ()
    """Programmatic checks on the boxed answer, each ``{"kind": ..., params}`` (see :data:`CHECKS`)."""
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """What made the task (eva's creator evolves arithmetic from it: ``{"op": "+", "a": 3, "b": 4}``)."""

    def reference_response(self) -> str | None:
        """The reference answer written as the model should write it."""
        return None if self.answer is None else boxed(self.answer)


def boxed(answer: str) -> str:
    return f"\\boxed{{{answer}}}"


def read_answer(text: str) -> str | None:
    """The content of the first ``\\boxed{...}`` (to the first ``}``), stripped; None if there is none.

    Deliberately strict: ``\\boxed{x5boxed{}}`` reads ``x5boxed{``, which no check passes,
    so only an answer a person would read as one counts.
    """
    match = re.search(r"\\boxed\{([^}]*)\}", text)
    return match.group(1).strip() if match else None


def _integer(answer: str) -> int | None:
    return int(answer) if re.fullmatch(r"-?\d+", answer) else None


CHECKS: dict[str, Callable[..., bool]] = {
    "exact": lambda a, value: a == str(value),
    "digits": lambda a, n: re.fullmatch(r"\d+", a) is not None and len(a) == int(n),
    "even": lambda a: (i := _integer(a)) is not None and i % 2 == 0,
    "odd": lambda a: (i := _integer(a)) is not None and i % 2 == 1,
    "between": lambda a, lo, hi: (i := _integer(a)) is not None and int(lo) <= i <= int(hi),
    "lowercase": lambda a: re.fullmatch(r"[a-z]+", a) is not None,
    "length": lambda a, n: len(a) == int(n),
    "starts_with": lambda a, prefix: a.startswith(str(prefix)),
}
"""Each check reads the boxed answer and its own parameters (the check's keys other than ``kind``)."""


def passes(task: Task, text: str) -> bool:
    """The response's boxed answer passes every check of the task (False when there is no answer or no check)."""
    answer = read_answer(text)
    if answer is None or not task.checks:
        return False
    return all(CHECKS[c["kind"]](answer, **{k: v for k, v in c.items() if k != "kind"}) for c in task.checks)


def well_formed(text: str) -> bool:
    """The whole response is one ``\\boxed{answer}`` with a short plain answer, nothing around it."""
    answer = read_answer(text)
    return answer is not None and re.fullmatch(r"[A-Za-z0-9-]{1,12}", answer) is not None and text.strip() == boxed(answer)


def check_score(task: Task, text: str, format_credit: float = 0.1) -> float:
    """The programmatic score: 1 when every check passes, ``format_credit`` for a clean answer that fails, else 0.

    The small credit for form gives a model that cannot yet answer right a
    gradient toward answers that can be checked at all.
    """
    if passes(task, text):
        return 1.0
    return format_credit if well_formed(text) else 0.0


# ----------------------------------------------------------------------------- reading files
def _task(obj: Any, where: str, index: int) -> Task:
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    lowered = {str(k).lower(): v for k, v in obj.items()}
    prompt = lowered.get("prompt", lowered.get("question"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"{where}: needs a non-empty 'prompt' (or 'question') string")
    answer = lowered.get("answer")
    if answer is not None and not isinstance(answer, str | int | float):
        raise UserError(f"{where}: 'answer' must be a string or a number")
    checks = lowered.get("checks") or []
    if not isinstance(checks, list) or not all(isinstance(c, dict) and "kind" in c for c in checks):
        raise UserError(f"{where}: 'checks' must be a list of objects with a 'kind'")
    for c in checks:
        if c["kind"] not in CHECKS:
            raise UserError(
                f"{where}: unknown check {c['kind']!r}{did_you_mean(str(c['kind']), list(CHECKS))}; checks: {', '.join(CHECKS)}"
            )
    if answer is not None and not checks:
        checks = [{"kind": "exact", "value": str(answer)}]
    meta = lowered.get("meta") if isinstance(lowered.get("meta"), dict) else {}
    return Task(str(lowered.get("id", index)), prompt, None if answer is None else str(answer), tuple(checks), meta)


def load_tasks(source: str | Path, limit: int | None = None) -> list[Task]:
    """Tasks from a bundled name, a JSONL file, or a Hugging Face ``datasets`` directory."""
    path = BUNDLED.get(str(source), Path(source))
    if path.is_dir():
        rows = _dataset_rows(path)
        tasks = [_task(row, f"{path} row {i}", i) for i, row in enumerate(rows)]
    elif path.is_file():
        tasks = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path} line {number} is not valid JSON ({err.msg})") from None
            tasks.append(_task(obj, f"{path} line {number}", len(tasks)))
    else:
        names = ", ".join(BUNDLED)
        raise UserError(f"prompts {source!r}: no such file or directory (a JSONL file, a datasets directory, or {names})")
    if not tasks:
        raise UserError(f"prompts {source!r}: no tasks in it")
    return tasks[:limit] if limit else tasks


def _dataset_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``datasets.save_to_disk`` directory (the extra is imported only here)."""
    try:
        import datasets
    except ImportError:
        raise UserError(
            f"{path} is a directory: reading a Hugging Face datasets directory needs `pip install datasets`"
        ) from None
    try:
        data = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as err:
        raise UserError(f"{path} is not a datasets directory ({err})") from None
    if isinstance(data, datasets.DatasetDict):
        data = data["train"] if "train" in data else next(iter(data.values()))
    return [dict(row) for row in data]


# ----------------------------------------------------------------------------- writing pairs
def write_pairs(path: Path, rows: Sequence[tuple[str, str, str]]) -> None:
    """A preference dataset: one ``{"prompt", "chosen", "rejected"}`` object a line (TRL's DPO format).

    Plain strings, the prompt being the user's message; TRL's ``DPOTrainer``
    reads this file unchanged with ``load_dataset("json", data_files=...)``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n" for p, c, r in rows))
    tmp.replace(path)
