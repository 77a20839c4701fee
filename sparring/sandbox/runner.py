"""The trusted first half of a sandboxed process: set the limits, arm the audit hook, run the program.

This file is never imported by sparring. Its text is handed to a fresh
``python -I -S -c`` inside the sandbox (see ``sparring.sandbox.run``), so it
may use the standard library only. ``argv[1]`` is a JSON object of limits and
paths; the untrusted program arrives on stdin, which is then closed.

Exit codes the parent reads (a program can fake any of them with
``os._exit``; that only changes *which* failure is reported, never turns a
failure into success, because success needs exit 0 and nothing else):

    0  the program ran to its end (or called ``sys.exit(0)``)
    1  the program raised (traceback on stderr)
    3  MemoryError
    4  a forbidden operation (the audit hook killed the process at once)

The audit hook is a tripwire, not a wall: Python code in the same process
can in principle reach around it (PEP 578 says so). The wall is the kernel:
rlimits, and under bubblewrap the namespaces and the minimal read-only file
system the parent sets up.
"""

import contextlib
import json
import os
import resource
import sys
import sysconfig
import traceback

EXIT_RAISED, EXIT_MEMORY, EXIT_FORBIDDEN = 1, 3, 4

DENIED_EVENTS = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "pty.",
    "ctypes.",
    "sys.addaudithook",
    "sys.setprofile",
    "sys.settrace",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "telnetlib.",
    "winreg.",
)
DENIED_MODULES = frozenset(
    {"ctypes", "_ctypes", "socket", "_socket", "subprocess", "_posixsubprocess", "multiprocessing", "pty", "_ssl", "ssl"}
)
PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.chdir",
        "os.chflags",
        "os.lchflags",
        "os.setxattr",
        "os.removexattr",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.move",
        "shutil.chown",
    }
)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def set_limits(limits: dict) -> None:
    """Kernel-enforced limits; inherited by anything the program could still start."""
    cpu = int(limits["cpu_seconds"])
    for name, soft, hard in (
        ("RLIMIT_CPU", cpu, cpu + 1),
        ("RLIMIT_AS", limits["memory_bytes"], limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_bytes"], limits["file_bytes"]),
        ("RLIMIT_NOFILE", limits["open_files"], limits["open_files"]),
        ("RLIMIT_NPROC", limits["processes"], limits["processes"]),
        ("RLIMIT_CORE", 0, 0),
    ):
        resource.setrlimit(getattr(resource, name), (soft, hard))


def audit_hook(workdir: str, readable: tuple, write, exit_now):
    """A hook that ends the process (exit 4) at the first network, process, or outside-file operation."""

    def inside(path, roots) -> bool:
        if isinstance(path, int) or path is None:
            return True  # an already-open descriptor
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)

    def refuse(event: str, detail: object) -> None:
        write(2, f"\nsandbox: forbidden: {event} {detail!r}\n"[:400].encode("utf-8", "replace"))
        exit_now(EXIT_FORBIDDEN)

    def hook(event: str, args: tuple) -> None:
        if event.startswith(DENIED_EVENTS):
            refuse(event, args[:1])
        elif event == "import" and args[0].split(".")[0] in DENIED_MODULES:
            refuse(event, args[0])
        elif event == "open":
            path, mode, flags = args
            writing = any(c in str(mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            if not inside(path, (workdir,) if writing else (workdir, *readable)):
                refuse(event, path)
        elif event in ("os.listdir", "os.scandir"):
            if not inside(args[0] if args[0] is not None else ".", (workdir, *readable)):
                refuse(event, args[0])
        elif event in PATH_EVENTS:
            for arg in args:
                if isinstance(arg, str | bytes | os.PathLike) and not inside(arg, (workdir,)):
                    refuse(event, arg)

    return hook


def main() -> None:
    config = json.loads(sys.argv[1])
    source = sys.stdin.buffer.read(config["max_source_bytes"] + 1)
    if len(source) > config["max_source_bytes"]:
        sys.stderr.write("sandbox: program too long\n")
        os._exit(EXIT_RAISED)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    workdir = os.path.realpath(config["workdir"])
    os.chdir(workdir)
    paths = sysconfig.get_paths()
    readable = tuple(os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib"))  # what imports read, no more
    set_limits(config)
    write, exit_now, flush = os.write, os._exit, sys.stdout.flush
    if config["audit"]:
        sys.addaudithook(audit_hook(workdir, readable, write, exit_now))
    status = 0
    try:
        code = compile(source, "<program>", "exec")  # under the limits: a hostile source can exhaust the compiler too
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as stop:
        status = 0 if stop.code in (None, 0) else EXIT_RAISED
    except MemoryError:
        status = EXIT_MEMORY
    except BaseException:  # noqa: BLE001  (the program's failure, whatever it is, is the verdict)
        with contextlib.suppress(BaseException):  # an exception whose repr itself raises
            traceback.print_exc(limit=5)
        status = EXIT_RAISED
    try:
        flush()
    except BaseException:  # noqa: BLE001  (a closed or replaced stdout)
        status = status or EXIT_RAISED
    exit_now(status)


if __name__ == "__main__":
    main()
