"""Run directory and checkpoints: a checkpoint is absent or whole, damage is named, resume finds the newest intact one."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from sparring.checkpoint import (
    CorruptCheckpoint,
    RunDir,
    find_resume_point,
    latest_valid_checkpoint,
    list_checkpoints,
    prepare_resume,
    save_checkpoint,
    verify_checkpoint,
)
from sparring.errors import UserError
from sparring.seeding import load_rng_state, save_rng_state

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir(tmp_path / "runs" / "demo").create()


def write_files(step: int):
    """A ``write`` callback producing a small trainer-like checkpoint, with a nested directory."""

    def write(d: Path) -> None:
        (d / "model").mkdir()
        (d / "model" / "weights.bin").write_bytes(bytes(range(256)) * 40 + step.to_bytes(4, "little"))
        (d / "model" / "config.json").write_text('{"layers": 2}')
        (d / "state.json").write_text(json.dumps({"step": step}))

    return write


def names(run: RunDir) -> list[str]:
    return sorted(p.name for p in run.checkpoints_dir.iterdir())


# --------------------------------------------------------------------------- run directory


def test_create_makes_layout_and_refuses_existing_run(tmp_path: Path):
    run = RunDir(tmp_path / "r").create()
    assert run.checkpoints_dir.is_dir() and run.replays_dir.is_dir()
    assert run.config_path == tmp_path / "r" / "config.yaml"
    assert run.metrics_path.name == "metrics.jsonl" and run.report_path.name == "report.html"
    with pytest.raises(UserError, match="already exists"):
        RunDir(tmp_path / "r").create()
    RunDir(tmp_path / "r").create(exist_ok=True)


# --------------------------------------------------------------------------- save, verify, list


def test_round_trip_save_verify_list(run: RunDir):
    path = save_checkpoint(run, 3, write_files(3))
    assert path == run.checkpoints_dir / "step-3"
    verify_checkpoint(path)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["step"] == 3 and manifest["format"] == 1
    assert sorted(manifest["files"]) == ["model/config.json", "model/weights.bin", "state.json"]
    assert manifest["files"]["model/config.json"]["size"] == len('{"layers": 2}')
    assert names(run) == ["step-3"]  # no temp dir left
    assert list_checkpoints(run) == [(3, path)]


def test_list_sorts_numerically_and_ignores_junk(run: RunDir):
    for step in (10, 9, 100):
        save_checkpoint(run, step, write_files(step))
    (run.checkpoints_dir / "step-abc").mkdir()
    (run.checkpoints_dir / "notes").mkdir()
    (run.checkpoints_dir / "step-7").write_text("a file, not a checkpoint")
    (run.checkpoints_dir / ".tmp-step-200-xyz").mkdir()
    assert [s for s, _ in list_checkpoints(run)] == [9, 10, 100]


def test_flipped_byte_is_named(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    weights = path / "model" / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpoint, match=r"model/weights\.bin fails its sha256 check") as e:
        verify_checkpoint(path)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, UserError)


def test_deleted_file_is_named(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    (path / "state.json").unlink()
    with pytest.raises(CorruptCheckpoint, match=r"file state\.json is missing"):
        verify_checkpoint(path)


def test_missing_manifest(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    (path / "manifest.json").unlink()
    with pytest.raises(CorruptCheckpoint, match="manifest.json is missing"):
        verify_checkpoint(path)


def test_unreadable_manifest(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    (path / "manifest.json").write_text('{"format": 1, "step": 1, "fil')
    with pytest.raises(CorruptCheckpoint, match="not a valid manifest"):
        verify_checkpoint(path)


def test_truncated_file_is_a_size_mismatch(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    weights = path / "model" / "weights.bin"
    full = weights.stat().st_size
    with open(weights, "r+b") as f:
        f.truncate(full - 10)
    with pytest.raises(CorruptCheckpoint, match=rf"model/weights\.bin has {full - 10} bytes, the manifest says {full}"):
        verify_checkpoint(path)


def test_extra_file_is_ignored(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    (path / "README").write_text("added by a human")
    verify_checkpoint(path)


def test_checkpoint_renamed_to_another_step_is_rejected(run: RunDir):
    path = save_checkpoint(run, 1, write_files(1))
    path.rename(run.checkpoints_dir / "step-2")
    with pytest.raises(CorruptCheckpoint, match="for step 1, not 2"):
        verify_checkpoint(run.checkpoints_dir / "step-2")


def test_write_may_not_create_the_manifest(run: RunDir):
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(run, 1, lambda d: (d / "manifest.json").write_text("{}"))
    assert names(run) == []


# --------------------------------------------------------------------------- interruptions


def test_keyboard_interrupt_in_write_leaves_nothing(run: RunDir):
    save_checkpoint(run, 1, write_files(1))

    def interrupted(d: Path) -> None:
        (d / "half.bin").write_bytes(b"x" * 1000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(run, 2, interrupted)
    assert names(run) == ["step-1"]


@pytest.mark.parametrize(
    "failure",
    [
        OSError(28, "No space left on device"),  # what Python's own writes raise
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 18278400 vs 18278292"),  # torch.save's
    ],
)
def test_a_full_disk_is_one_clear_line_and_keeps_the_checkpoints_written(run: RunDir, monkeypatch, failure):
    import shutil as shutil_module
    from collections import namedtuple

    save_checkpoint(run, 1, write_files(1))
    real = shutil_module.disk_usage
    usage = namedtuple("usage", "total used free")
    full = lambda path: usage(10**9, 10**9, 0) if failure.args[0] != 28 else real(path)  # noqa: E731

    def fails(d: Path) -> None:
        (d / "half.bin").write_bytes(b"x" * 1000)
        raise failure

    monkeypatch.setattr("sparring.checkpoint.shutil.disk_usage", full)
    with pytest.raises(UserError, match="could not write checkpoint step-2: the disk .* is full.*--resume"):
        save_checkpoint(run, 2, fails)
    assert names(run) == ["step-1"]
    verify_checkpoint(run.checkpoints_dir / "step-1")  # raises if the failed save touched it
    monkeypatch.setattr("sparring.checkpoint.shutil.disk_usage", real)
    with pytest.raises(RuntimeError, match="unexpected pos"):  # the same error with space left is not a full disk
        save_checkpoint(run, 2, lambda d: (_ for _ in ()).throw(RuntimeError("unexpected pos")))


def test_interrupt_while_replacing_keeps_the_old_checkpoint(run: RunDir):
    old = save_checkpoint(run, 4, write_files(4))
    before = (old / "state.json").read_text()

    def interrupted(d: Path) -> None:
        (d / "state.json").write_text("new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(run, 4, interrupted)
    assert names(run) == ["step-4"]
    verify_checkpoint(old)
    assert (old / "state.json").read_text() == before


def test_leftover_temp_dir_is_ignored_then_cleaned_with_warning(run: RunDir):
    save_checkpoint(run, 4, write_files(4))
    stale = run.checkpoints_dir / ".tmp-step-5-k1ll3d"
    stale.mkdir()
    (stale / "state.json").write_text("half")
    assert [s for s, _ in list_checkpoints(run)] == [4]
    warnings: list[str] = []
    assert latest_valid_checkpoint(run, warnings.append) == (4, run.checkpoints_dir / "step-4")
    assert stale.exists() and not warnings  # a lookup is read-only: that save may still be under way
    assert find_resume_point(run, warnings.append) == (4, run.checkpoints_dir / "step-4")
    assert not stale.exists()
    assert len(warnings) == 1 and ".tmp-step-5-k1ll3d" in warnings[0] and "interrupted save" in warnings[0]


def test_a_lookup_never_touches_what_a_running_save_or_replace_has_in_flight(run: RunDir):
    save_checkpoint(run, 3, write_files(3))
    in_flight = [".tmp-step-4-busy", ".del-step-1-busy", ".old-step-2-0badc0de"]
    for name in in_flight:
        (run.checkpoints_dir / name).mkdir()
        (run.checkpoints_dir / name / "state.json").write_text("being written")
    warnings: list[str] = []
    assert latest_valid_checkpoint(run, warnings.append) == (3, run.checkpoints_dir / "step-3")
    assert names(run) == sorted(["step-3", *in_flight]) and not warnings


def test_kill_between_the_renames_of_a_replace_restores_the_old_one(run: RunDir):
    """A kill after step-3 was moved aside but before the new one moved in leaves `.old-step-3-*`: it comes back."""
    path = save_checkpoint(run, 3, write_files(3))
    path.rename(run.checkpoints_dir / ".old-step-3-0badc0de")
    warnings: list[str] = []
    assert find_resume_point(run, warnings.append) == (3, path)
    assert names(run) == ["step-3"]
    assert any("restoring step-3" in w for w in warnings)


def test_sigkill_during_write_leaves_previous_checkpoint_as_latest(run: RunDir):
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from sparring.checkpoint import RunDir, save_checkpoint

        run = RunDir(sys.argv[1])
        save_checkpoint(run, 1, lambda d: (d / "state.json").write_text("one"))

        def slow(d: Path) -> None:
            (d / "model.bin").write_bytes(b"w" * 100_000)
            print("writing", flush=True)
            time.sleep(60)

        save_checkpoint(run, 2, slow)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(run.path)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "writing", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    assert "step-2" not in names(run)
    assert any(n.startswith(".tmp-step-2-") for n in names(run))
    warnings: list[str] = []
    assert find_resume_point(run, warnings.append) == (1, run.checkpoints_dir / "step-1")
    assert names(run) == ["step-1"]
    assert len(warnings) == 1


# --------------------------------------------------------------------------- replace, prune, fall back


def test_saving_an_existing_step_replaces_it(run: RunDir):
    save_checkpoint(run, 2, lambda d: (d / "state.json").write_text("first"))
    path = save_checkpoint(run, 2, lambda d: (d / "other.json").write_text("second"))
    verify_checkpoint(path)
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "other.json"]
    assert names(run) == ["step-2"]


def test_keep_last_deletes_older_ones_but_spares_protected(run: RunDir):
    for step in range(1, 6):
        save_checkpoint(run, step, write_files(step), keep_last=2, protect={1})
    assert [s for s, _ in list_checkpoints(run)] == [1, 4, 5]
    assert not any(n.startswith(".") for n in names(run))


def test_keep_last_never_deletes_the_one_just_written_nor_newer_ones(run: RunDir):
    for step in (8, 9, 10):
        save_checkpoint(run, step, write_files(step))
    save_checkpoint(run, 3, write_files(3), keep_last=1)
    assert [s for s, _ in list_checkpoints(run)] == [3, 8, 9, 10]
    save_checkpoint(run, 9, write_files(9), keep_last=1)
    assert [s for s, _ in list_checkpoints(run)] == [9, 10]


def test_latest_valid_falls_back_past_corrupted_newest_and_warns(run: RunDir):
    for step in (1, 2, 3):
        save_checkpoint(run, step, write_files(step))
    (run.checkpoints_dir / "step-3" / "state.json").write_text('{"step": 9}')  # same size, other bytes
    (run.checkpoints_dir / "step-2" / "manifest.json").unlink()
    warnings: list[str] = []
    assert latest_valid_checkpoint(run, warnings.append) == (1, run.checkpoints_dir / "step-1")
    assert len(warnings) == 2
    assert re.fullmatch(
        r"checkpoint step-3 is corrupted \(file state\.json fails its sha256 check .*\); falling back to an older one",
        warnings[0],
    )
    assert warnings[1] == ("checkpoint step-2 is corrupted (manifest.json is missing); falling back to an older one")


def test_no_intact_checkpoint_is_a_user_error(run: RunDir, tmp_path: Path):
    with pytest.raises(UserError, match="no intact checkpoint in .*; nothing to resume"):
        find_resume_point(run, warn=lambda _: None)
    with pytest.raises(UserError, match="does not exist"):
        find_resume_point(RunDir(tmp_path / "nope"), warn=lambda _: None)


# --------------------------------------------------------------------------- metrics


def test_metrics_append_and_read_ignore_a_torn_last_line(run: RunDir):
    for step in range(3):
        run.append_metrics({"step": step, "loss": 1.0 / (step + 1)})
    with open(run.metrics_path, "ab") as f:
        f.write(b'{"step": 3, "lo')  # killed mid-write
    assert [r["step"] for r in run.read_metrics()] == [0, 1, 2]
    run.append_metrics({"step": 3, "loss": 0.25})  # the torn tail does not glue onto the next line
    assert run.read_metrics()[-1] == {"step": 3, "loss": 0.25}
    assert run.metrics_path.read_text().count("\n") == 4


def test_metrics_damaged_in_the_middle_is_an_error(run: RunDir):
    run.metrics_path.write_text('{"step": 0}\nnot json\n{"step": 2}\n')
    with pytest.raises(UserError, match="line 2 is not valid JSON"):
        run.read_metrics()


def test_append_requires_a_step(run: RunDir):
    with pytest.raises(ValueError, match="step"):
        run.append_metrics({"loss": 1.0})


def test_truncate_metrics_keeps_records_up_to_the_step(run: RunDir):
    for step in range(6):
        run.append_metrics({"step": step, "x": step * 2})
    run.truncate_metrics(after_step=3)
    assert run.read_metrics() == [{"step": s, "x": s * 2} for s in range(4)]
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []


def test_prepare_resume_cuts_metrics_back_to_the_checkpoint(run: RunDir):
    for step in range(1, 5):
        run.append_metrics({"step": step})
        if step % 2 == 0:
            save_checkpoint(run, step, write_files(step))
    (run.checkpoints_dir / "step-4" / "state.json").unlink()
    assert prepare_resume(run, warn=lambda _: None)[0] == 2
    assert run.read_metrics() == [{"step": 1}, {"step": 2}]


# --------------------------------------------------------------------------- RNG


def draw() -> tuple:
    return random.random(), np.random.rand(3).tolist(), np.random.normal(), torch.rand(3).tolist()


def test_rng_state_round_trip_through_torch_save(tmp_path: Path):
    draw()
    state = save_rng_state()
    first = draw()
    torch.save(state, tmp_path / "rng.pt")
    loaded = torch.load(tmp_path / "rng.pt", weights_only=True)
    draw()  # move every generator on
    load_rng_state(loaded)
    assert draw() == first
