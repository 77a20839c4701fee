"""A sandbox for programs written by a model: hostile by assumption, run in a separate process.

Proposer/solver games execute what the proposer wrote. That text comes from
a policy that is being optimised, and an optimiser finds whatever pays, so
the program is treated as an attacker's: ``run_python(source)`` runs it and
always comes back with a :class:`RunResult` (ok, or why not: ``timeout``,
``memory``, ``output_limit``, ``crashed``, ``forbidden``), never an exception.

Threat model. The attacker controls the program text and nothing else. It
may loop, allocate, print without end, fork, recurse, open sockets, spawn
shells, signal its parent, read or write any path, and play tricks with
``sys.exit``, the output bytes or the exit code. What must hold: the caller
survives and gets a verdict within the wall-clock limit plus a fraction of
a second; nothing outside the run's own empty directory changes; nothing it
was not given (the project, home directories, keys) leaks into its output;
no network traffic leaves; no process outlives the run. What it can do: burn
up to its CPU, memory and output limits, and lie about *why* it failed (any
exit code can be faked, but success needs a clean exit 0 within limits).

Layers (``sparring.sandbox.isolation``, chosen once and logged):

1. bubblewrap, when it can create namespaces: the kernel enforces it all --
   no network namespace interfaces, a private PID namespace killed as a
   whole, a file system of read-only system directories plus an empty,
   size-capped tmpfs, no capabilities.
2. Always, in the process itself: rlimits (CPU seconds, address space, file
   size, open files, process count 1, no core dumps), an empty working
   directory, ``python -I -S`` with a scrubbed environment, stdin closed, and
   run as ``nobody`` when sparring is root (root ignores the process limit).
3. An audit hook (PEP 578) that ends the run at the first socket, process,
   signal, ``ctypes`` or outside-file operation. This is a tripwire that
   turns a misbehaving program into a clear ``forbidden`` verdict, NOT a
   security boundary: code in the same interpreter can reach around a hook.
   Without layer 1 (the ``rlimits`` fallback), the file system and the
   network are guarded by the hook alone, and the log says so.

Not covered: kernel exploits and side channels; CPU time stolen from other
work (up to ``cpu_seconds`` per run, and the runs of a rollout are
sequential); in the fallback, a program that defeats the hook can read what
``nobody`` (or, unprivileged, the user) may read and use the network; denial
of service through many concurrent runs (the caller decides concurrency).
Linux only.
"""

from sparring.sandbox.execute import Limits, RunResult, run_python
from sparring.sandbox.isolation import ISOLATIONS, Isolation, choose

__all__ = ["ISOLATIONS", "Isolation", "Limits", "RunResult", "choose", "run_python"]
