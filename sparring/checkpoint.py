"""The run directory, checkpoints that cannot look whole when they are not, and resume discovery.

A run lives in ``runs/<name>/``::

    config.yaml          resolved config (written by the caller)
    metrics.jsonl        one JSON object per line, each with a "step"
    checkpoints/step-K/  a checkpoint (:class:`CheckpointDir`) + manifest.json (sha256 and size of every file)
    best/                with ``checkpoint.keep_best``: the best model so far by that metric, + best.json
    replays/NAME.jsonl   game transcripts (``train``: the training games)
    eval/step-K.json     ``sparring eval`` results; eval/benchmark-NAME-step-K.jsonl: math benchmark answers
    eval/answers-step-K.jsonl  preference runs: held-out answers of round K
    pairs/round-K.jsonl  preference runs: round K's generated pairs (prompt/chosen/rejected, TRL's DPO format)
    league.json          ``sparring league`` ratings
    pool/                the league's snapshots of the policy (opponent.kind=pool)
    tensorboard/         TensorBoard events
    .cache/              derived files (a LoRA checkpoint merged into a model, for evaluation)
    report.html

and a checkpoint holds ``model/`` (a Hugging Face model + tokenizer) or, when training LoRA,
``adapter/`` (a PEFT adapter + tokenizer), ``learner.pt`` (optimizer, scheduler, reference),
``rng.pt``, ``state.json`` (step, baselines, league, last evaluation; a LoRA run's base model) and
``manifest.json``. Every one of these names is spelled in this module only (:class:`RunDir`,
:class:`CheckpointDir`); every other module asks them.

Why the care: a run may be killed at any instruction (SIGKILL, OOM, Ctrl-C, a pre-empted
machine), and ``--resume`` must then continue from a checkpoint that is really complete and
give the same metrics as an uninterrupted run. So:

* a checkpoint is written into ``checkpoints/.tmp-step-K-*``, hashed, fsynced, and only then
  renamed to ``step-K``; the rename is atomic, so ``step-K`` is either absent or whole;
* ``manifest.json`` is written last and records every file's size and sha256, so a checkpoint
  damaged later (disk, partial copy, a human) is detected, and resume falls back to an older one;
* metrics lines are fsynced one by one; a line torn by a kill is ignored, and on resume the file
  is cut back to the checkpoint's step.

Names starting with a dot in ``checkpoints/`` are work in progress of some save or delete; only
``step-<int>`` directories are checkpoints. One process writes a run at a time.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparring.errors import UserError

MANIFEST = "manifest.json"
BEST_INFO = "best.json"
FORMAT_VERSION = 1
_STEP_DIR = re.compile(r"^step-(\d+)$")
_EVAL_FILE = re.compile(r"^step-(\d+)\.json$")
_CHUNK = 1 << 20  # hashing reads 1 MiB at a time: checkpoints may hold files of many GB

Warn = Callable[[str], None]


def _warn_stderr(message: str) -> None:
    """Default warning sink: one line on stderr, like the CLI's ``error:`` lines."""
    print(f"warning: {message}", file=sys.stderr)


class CorruptCheckpoint(UserError):
    """A checkpoint directory that is incomplete or damaged; ``reason`` names the first problem found."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"checkpoint {self.path} is corrupted: {reason}")


# --------------------------------------------------------------------------- durability helpers


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries (a create or a rename) durable; a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    """Write a whole file and fsync it (not its directory)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _replace_file_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` so that readers see either the old or the new content, never a mix."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _write_durably(Path(tmp), data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _hash_and_sync(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in chunks; also fsyncs it, since the caller's ``write`` may not have."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(f.fileno())
    return size, digest.hexdigest()


def _sha256(path: Path) -> str:
    """sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- run directory


class RunDir:
    """The directory of one training run; every file name of the layout is decided here and only here."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def replays_dir(self) -> Path:
        return self.path / "replays"

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"

    def replay_path(self, name: str) -> Path:
        return self.replays_dir / f"{name}.jsonl"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    def eval_path(self, step: int) -> Path:
        """``sparring eval``'s result for the checkpoint of ``step`` (the report's evaluation table)."""
        return self.eval_dir / f"step-{step}.json"

    def eval_results(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every saved evaluation, by increasing step."""
        if not self.eval_dir.is_dir():
            return []
        return sorted((int(m.group(1)), p) for p in self.eval_dir.iterdir() if (m := _EVAL_FILE.match(p.name)))

    def benchmark_path(self, name: str, step: int) -> Path:
        """Per-problem answers of benchmark ``name`` for the checkpoint of ``step``."""
        return self.eval_dir / f"benchmark-{name}-step-{step}.jsonl"

    def answers_path(self, step: int) -> Path:
        """Preference runs: the held-out answers of round ``step`` (round 0's are what later rounds are judged against)."""
        return self.eval_dir / f"answers-step-{step}.jsonl"

    @property
    def pairs_dir(self) -> Path:
        return self.path / "pairs"

    def pairs_path(self, step: int) -> Path:
        """Preference runs: round ``step``'s pairs, one ``{"prompt", "chosen", "rejected"}`` a line (TRL's DPO format)."""
        return self.pairs_dir / f"round-{step}.jsonl"

    @property
    def league_path(self) -> Path:
        return self.path / "league.json"

    @property
    def pool_dir(self) -> Path:
        return self.path / "pool"

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def cache_dir(self) -> Path:
        return self.path / ".cache"

    @property
    def best_dir(self) -> Path:
        """With ``checkpoint.keep_best``: a model directory (``model/``) with ``best.json`` and a manifest."""
        return self.path / "best"

    @property
    def best_info_path(self) -> Path:
        return self.best_dir / BEST_INFO

    def is_run(self) -> bool:
        """A run directory is one with its config: every run writes it before anything else."""
        return self.config_path.is_file()

    def create(self, exist_ok: bool = False) -> RunDir:
        """Make the layout; refuse an existing run unless ``exist_ok``, so a new run never mixes with an old one."""
        if self.path.exists() and not exist_ok:
            raise UserError(f"run directory {self.path} already exists; resume it with --resume or choose another name")
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        self.replays_dir.mkdir(exist_ok=True)
        return self

    # ------------------------------------------------------------------ metrics

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one record as one line, fsynced: once this returns, a SIGKILL cannot lose it.

        A line torn by an earlier kill (no final newline) is cut off first, so it never glues
        itself to this one.
        """
        if "step" not in record:
            raise ValueError(f"a metrics record needs a 'step' key, got keys {sorted(record)}")
        line = (json.dumps(record, sort_keys=False) + "\n").encode()
        created = not self.metrics_path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "ab+") as f:
            _drop_torn_tail(f)
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if created:
            _fsync_dir(self.path)

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete records; a last line without its newline (the run was killed mid-write) is ignored."""
        if not self.metrics_path.exists():
            return []
        data = self.metrics_path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        records = []
        for number, line in enumerate(complete.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"{self.metrics_path} line {number} is not valid JSON ({e.msg}); the file is damaged") from e
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Keep only records with ``step <= after_step``, atomically.

        Used on resume: the steps after the checkpoint will be run again, and their records must
        appear once, as in an uninterrupted run.
        """
        if not self.metrics_path.exists():
            return
        kept = [r for r in self.read_metrics() if r["step"] <= after_step]
        _replace_file_atomically(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept).encode())


def _drop_torn_tail(f: Any) -> None:
    """Cut a binary file opened ``ab+`` back to its last newline when it does not end with one."""
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        return
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return
    f.seek(0)  # rare path (only after a kill): reading it all is fine
    data = f.read()
    f.truncate(data.rfind(b"\n") + 1)


# --------------------------------------------------------------------------- checkpoints


class CheckpointDir:
    """The files inside one checkpoint directory (``checkpoints/step-K``, or a copy of one elsewhere)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"CheckpointDir({str(self.path)!r})"

    @property
    def model_dir(self) -> Path:
        """The policy as a Hugging Face model directory (with its tokenizer); absent in LoRA runs."""
        return self.path / "model"

    @property
    def average_dir(self) -> Path:
        """With ``learner.average_weights``: the weight average as a Hugging Face model directory."""
        return self.path / "average"

    @property
    def adapter_dir(self) -> Path:
        """LoRA runs: the PEFT adapter directory (with the tokenizer) instead of ``model/``."""
        return self.path / "adapter"

    @property
    def learner_path(self) -> Path:
        return self.path / "learner.pt"

    @property
    def rng_path(self) -> Path:
        return self.path / "rng.pt"

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def step(self) -> int | None:
        """K of a directory named ``step-K``, else None."""
        match = _STEP_DIR.match(self.path.name)
        return int(match.group(1)) if match else None

    @property
    def run(self) -> RunDir | None:
        """The run this checkpoint lives in (``RUN/checkpoints/step-K`` with RUN's config), else None."""
        run = RunDir(self.path.parent.parent)
        inside = self.step is not None and self.path.parent == run.checkpoints_dir
        return run if inside and run.is_run() else None

    @property
    def merged_model_dir(self) -> Path:
        """Where a LoRA checkpoint merged into a plain model is cached: in its run's ``.cache/``, never in itself.
        ``RUN/best`` is replaced as the run improves, so its cache is named by the step it holds."""
        if self.step is None and (self.path / BEST_INFO).is_file():
            step = json.loads((self.path / BEST_INFO).read_text())["step"]
            return RunDir(self.path.parent).cache_dir / f"merged-best-step-{step}"
        return RunDir(self.path.parent.parent).cache_dir / f"merged-{self.path.name}"


def checkpoint_path(run: RunDir, step: int) -> Path:
    """Where the checkpoint of ``step`` lives (whether or not it exists)."""
    return run.checkpoints_dir / f"step-{step}"


def save_checkpoint(
    run: RunDir,
    step: int,
    write: Callable[[Path], None],
    keep_last: int | None = None,
    protect: set[int] | frozenset[int] = frozenset(),
) -> Path:
    """Write a checkpoint so that ``checkpoints/step-K`` is either absent or complete, at every instant.

    ``write(tmpdir)`` puts the trainer's files (model, optimizer.pt, state.json...) into a fresh
    temporary directory; then every file is hashed and fsynced, ``manifest.json`` is written, and
    the directory is renamed into place. If anything raises (KeyboardInterrupt included) the
    temporary directory is removed and the exception propagates. An existing ``step-K`` is replaced.

    ``keep_last``: afterwards delete all but the newest N checkpoints, never the one just written,
    none in ``protect`` (e.g. steps an opponent pool refers to), and none newer than ``step``
    (those are left from an abandoned timeline and are replaced when the run reaches them again).
    """
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if keep_last is not None and keep_last < 1:
        raise ValueError(f"keep_last must be at least 1 (or None to keep all), got {keep_last}")
    run.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-step-{step}-", dir=run.checkpoints_dir))
    final = checkpoint_path(run, step)
    try:
        write(tmp)
        _write_manifest(tmp, step)
        _publish(tmp, final)
    except BaseException as err:
        _discard(tmp, err, f"checkpoint step-{step}", run)
        raise
    if keep_last is not None:
        prune_checkpoints(run, keep_last, protect=set(protect) | {step}, newest=step)
    return final


def save_best(run: RunDir, step: int, write: Callable[[Path], None], info: dict[str, Any]) -> Path:
    """Replace ``RUN/best`` the way a checkpoint is written: whole or absent at every instant.

    ``write(tmpdir)`` puts the model in; ``info`` (step, metric, value) becomes ``best.json``, which the
    manifest covers, so a best whose files and record disagree fails :func:`verify_checkpoint`.
    """
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-best-", dir=run.path))
    try:
        write(tmp)
        _write_durably(tmp / BEST_INFO, json.dumps(info, indent=2).encode())
        _write_manifest(tmp, step)
        _publish(tmp, run.best_dir)
    except BaseException as err:
        _discard(tmp, err, "RUN/best", run)
        raise
    return run.best_dir


LOW_SPACE = 64 * 2**20
"""Free bytes under which a failed write is put down to a full disk (torch reports one as a RuntimeError)."""


def _discard(tmp: Path, err: BaseException, what: str, run: RunDir) -> None:
    """Remove a half-written directory; a write that failed because the disk is full becomes one clear line.

    Measured before the removal, while the partial files still hold the space they took.
    """
    full = isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(err, OSError | RuntimeError) and not full:
        full = shutil.disk_usage(tmp.parent).free < LOW_SPACE
    shutil.rmtree(tmp, ignore_errors=True)
    if full:
        raise UserError(
            f"could not write {what}: the disk under {tmp.parent} is full ({err}). The checkpoints already "
            f"written are intact; free some space and continue with `sparring train --resume {run.path}`"
        ) from err


def read_best(run: RunDir) -> dict[str, Any] | None:
    """``best.json`` of an intact ``RUN/best``; None when there is none or it does not verify (it is then rewritten)."""
    try:
        verify_checkpoint(run.best_dir)
        return json.loads(run.best_info_path.read_text())
    except (CorruptCheckpoint, OSError, json.JSONDecodeError):
        return None


def _write_manifest(directory: Path, step: int) -> None:
    """Hash and fsync every file under ``directory``, then record them in manifest.json (written last)."""
    if (directory / MANIFEST).exists():
        raise ValueError(f"{MANIFEST} is reserved for the checkpoint's own manifest; the write callback must not create it")
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        size, sha = _hash_and_sync(path)
        files[path.relative_to(directory).as_posix()] = {"size": size, "sha256": sha}
    manifest = {"format": FORMAT_VERSION, "step": step, "files": files}
    _write_durably(directory / MANIFEST, json.dumps(manifest, indent=1).encode())
    for sub in sorted({p.parent for p in directory.rglob("*")} | {directory}):
        _fsync_dir(sub)


def _publish(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside first and deleted only after.

    A kill between the two renames leaves no ``final`` but a complete ``.old-<name>-*``, which
    :func:`clean_interrupted_saves` renames back.
    """
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{secrets.token_hex(4)}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        if old is not None and not final.exists():
            os.rename(old, final)
        raise
    _fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _delete_checkpoint(path: Path) -> None:
    """Remove a checkpoint by first renaming it away, so a kill mid-delete never leaves a gutted ``step-K``."""
    doomed = path.with_name(f".del-{path.name}-{secrets.token_hex(4)}")
    os.rename(path, doomed)
    _fsync_dir(path.parent)
    shutil.rmtree(doomed, ignore_errors=True)


def prune_checkpoints(
    run: RunDir, keep_last: int, protect: set[int] | frozenset[int] = frozenset(), newest: int | None = None
) -> list[int]:
    """Delete checkpoints beyond the ``keep_last`` newest (at or before step ``newest``), sparing ``protect``.

    Returns the deleted steps. Checkpoints after ``newest`` are never touched.
    """
    candidates = [(s, p) for s, p in list_checkpoints(run) if newest is None or s <= newest]
    doomed = [(s, p) for s, p in candidates[:-keep_last] if s not in protect]
    for _, path in doomed:
        _delete_checkpoint(path)
    return [s for s, _ in doomed]


def verify_checkpoint(path: str | os.PathLike[str]) -> None:
    """Raise :class:`CorruptCheckpoint` naming the first problem; return if every manifest file is intact.

    Sizes are checked for all files before any hashing, so a truncated file is reported without
    reading gigabytes. Files not in the manifest are ignored.
    """
    path = Path(path)
    if not path.is_dir():
        raise CorruptCheckpoint(path, "it is not a directory")
    files = _read_manifest(path)
    for rel, entry in files.items():
        file = path / rel
        if not file.is_file():
            raise CorruptCheckpoint(path, f"file {rel} is missing")
        size = file.stat().st_size
        if size != entry["size"]:
            raise CorruptCheckpoint(path, f"file {rel} has {size} bytes, the manifest says {entry['size']}")
    for rel, entry in files.items():
        sha = _sha256(path / rel)
        if sha != entry["sha256"]:
            raise CorruptCheckpoint(
                path, f"file {rel} fails its sha256 check (expected {entry['sha256'][:12]}..., got {sha[:12]}...)"
            )


def _read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The manifest's file table, after checking it is readable, of a known format, and of this step."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CorruptCheckpoint(path, f"{MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_bytes())
        files = manifest["files"]
        fmt, step = manifest["format"], manifest["step"]
        ok = all(isinstance(e["size"], int) and isinstance(e["sha256"], str) for e in files.values())
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise CorruptCheckpoint(path, f"{MANIFEST} is not a valid manifest")
    if fmt != FORMAT_VERSION:
        raise CorruptCheckpoint(path, f"{MANIFEST} has format {fmt!r}; this version of sparring reads format {FORMAT_VERSION}")
    match = _STEP_DIR.match(path.name)
    if match and int(match.group(1)) != step:
        raise CorruptCheckpoint(path, f"{MANIFEST} is for step {step}, not {match.group(1)}")
    for rel in files:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise CorruptCheckpoint(path, f"{MANIFEST} names a file outside the checkpoint: {rel}")
    return files


def list_checkpoints(run: RunDir) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``step-<int>`` directory, by increasing step; temp dirs and other names are ignored."""
    if not run.checkpoints_dir.is_dir():
        return []
    found = []
    for child in run.checkpoints_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def clean_interrupted_saves(run: RunDir, warn: Warn = _warn_stderr) -> None:
    """Tidy what a killed save or delete left behind in ``checkpoints/`` (and a replace of ``RUN/best``).

    ``.tmp-*`` (an unfinished save) and ``.del-*`` (an unfinished delete) are removed; an
    ``.old-step-K-*`` whose ``step-K`` is missing (killed between the two renames of a replace)
    is renamed back, otherwise removed. Only safe when no other process is saving into this run.
    """
    if run.path.is_dir():  # RUN/best is replaced the same way, from RUN itself
        _clean_dir(run.path, r"^\.old-(best)-[0-9a-f]+$", ".tmp-best-", warn)
    if not run.checkpoints_dir.is_dir():
        return
    _clean_dir(run.checkpoints_dir, r"^\.old-(step-\d+)-[0-9a-f]+$", ".tmp-", warn)


def _clean_dir(parent: Path, old_pattern: str, tmp_prefix: str, warn: Warn) -> None:
    for child in sorted(parent.iterdir()):
        name = child.name
        if name.startswith(tmp_prefix):
            warn(f"removing {name}, an unfinished checkpoint left by an interrupted save")
            shutil.rmtree(child, ignore_errors=True)
        elif name.startswith(".del-"):
            shutil.rmtree(child, ignore_errors=True)
        elif match := re.match(old_pattern, name):
            target = child.with_name(match.group(1))
            if target.exists():
                shutil.rmtree(child, ignore_errors=True)
            else:
                warn(f"restoring {target.name} from {name}, left by an interrupted replace")
                os.rename(child, target)
    _fsync_dir(parent)


def latest_valid_checkpoint(run: RunDir, warn: Warn = _warn_stderr) -> tuple[int, Path] | None:
    """The newest checkpoint that verifies; None if there is none. Read-only.

    Each newer corrupted checkpoint is reported through ``warn`` and skipped (left in place for
    inspection; it is replaced when the resumed run saves that step again). Nothing is removed:
    a ``.tmp-*`` may be a save that a running training is still writing, so only the resume
    path (:func:`find_resume_point`) tidies interrupted saves.
    """
    for step, path in reversed(list_checkpoints(run)):
        try:
            verify_checkpoint(path)
        except CorruptCheckpoint as e:
            warn(f"checkpoint {path.name} is corrupted ({e.reason}); falling back to an older one")
            continue
        return step, path
    return None


def find_resume_point(run: RunDir, warn: Warn = _warn_stderr) -> tuple[int, Path]:
    """Tidy interrupted saves, then :func:`latest_valid_checkpoint`; a missing run or checkpoint is the user's error.

    Only the process that resumes a run may tidy it: it is about to become the run's one writer.
    """
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist; nothing to resume")
    clean_interrupted_saves(run, warn)
    found = latest_valid_checkpoint(run, warn)
    if found is None:
        raise UserError(f"no intact checkpoint in {run.checkpoints_dir}; nothing to resume")
    return found


def prepare_resume(run: RunDir, warn: Warn = _warn_stderr) -> tuple[int, Path]:
    """Find the resume point and cut metrics back to it, so the resumed run's metrics equal an uninterrupted one's."""
    step, path = find_resume_point(run, warn)
    run.truncate_metrics(after_step=step)
    return step, path
