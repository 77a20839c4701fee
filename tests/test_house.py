"""The shape of the package: imports flow one way, and one module names the files of a run.

Both are read from the source with ``ast``, so they hold for code that a test
run never imports (vLLM, Ray workers, a follower rank) just as for the rest.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sparring"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of a package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the package it names in an import statement.

    Every import counts: at the top, inside a function (a circle that closes at run
    time is still a circle), and under ``TYPE_CHECKING`` (a type is a dependency of
    the design). ``from a import b`` points at ``a.b`` where that is a module, else at
    ``a``. A parent package that Python imports implicitly is not an edge: it is not a
    dependency its child chose.
    """
    mods = modules(package)
    root = package.name

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(owner(alias.name) for alias in node.names if alias.name.split(".")[0] == root)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                if base.split(".")[0] != root:
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    edges.add(full if full in mods else owner(base))
        graph[name] = {e for e in edges if e is not None and e != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one circle to show."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_reader_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg.sub import leaf\n",
        "sub/__init__.py": "",
        "sub/leaf.py": "import os\n\ndef f():\n    from pkg import top  # function-local\n",
        "top.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.leaf import f\nimport pkg.sub\n",
        "alone.py": "from pkg.top import nothing_but_a_name\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = import_graph(pkg)
    assert graph == {
        "pkg": {"pkg.sub.leaf"},
        "pkg.sub": set(),
        "pkg.sub.leaf": {"pkg.top"},
        "pkg.top": {"pkg.sub.leaf", "pkg.sub"},
        "pkg.alone": {"pkg.top"},
    }
    assert cycles(graph) == [["pkg.sub.leaf", "pkg.top"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_sparring_has_no_import_circles():
    found = cycles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_loop_imports_no_engine_backend_but_the_default():
    """train.py asks engines.make_engine for its engine and talks to it through the Engine protocol."""
    assert "sparring.engines.vllm" not in import_graph()["sparring.train"]
    assert "VLLMEngine" not in (PACKAGE / "train.py").read_text()


RUN_LAYOUT_NAMES = {
    # the run directory
    "config.yaml",
    "metrics.jsonl",
    "checkpoints",
    "replays",
    "report.html",
    "eval",
    "league.json",
    "pool",
    "tensorboard",
    ".cache",
    # a checkpoint
    "model",
    "adapter",
    "learner.pt",
    "rng.pt",
    "state.json",
    "manifest.json",
}


def test_only_checkpoint_py_names_the_files_of_a_run():
    """``path / "state.json"`` and the like appear in sparring/checkpoint.py and nowhere else."""
    spelled = []
    for name, path in modules().items():
        if name == "sparring.checkpoint":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                for side in (node.left, node.right):
                    if isinstance(side, ast.Constant) and side.value in RUN_LAYOUT_NAMES:
                        spelled.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {side.value!r}")
    assert not spelled, "run layout spelled outside sparring/checkpoint.py: " + ", ".join(spelled)
