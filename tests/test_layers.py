"""The package's imports follow the data flow: no module imports one of a higher layer, and there are no
import cycles (function-level imports count too). docs/ARCHITECTURE.md describes the layers."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nlp_lstm"

# Lowest first. A module may import its own layer and the ones below it.
LAYERS = [
    ("base", ["errors", "io", "config", "config_docs", "device", "_version"]),
    ("text", ["text"]),
    ("data", ["data"]),
    ("models", ["models"]),
    ("inference", ["model_dir", "attributions", "predictor"]),
    ("evaluation", ["evaluation"]),
    ("training", ["training"]),
    ("tasks", ["tasks"]),
    ("entry points", ["runs", "seeds", "checks", "export", "estimators", "serve", "hub", "cli", "__main__",
                      "__init__"]),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """The package modules a file imports, anywhere in it."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nlp_lstm"):
            base = node.module.split(".")[1:]
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[1:]) or "__init__" for a in node.names
                      if a.name.startswith("nlp_lstm.")}
            continue
        else:
            continue
        for alias in node.names:
            target = ".".join([*base, alias.name])
            found.add(target if _is_module(target) else ".".join(base) or "__init__")
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _layer(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"nlp_lstm.{module} is in no layer; add it to LAYERS and docs/ARCHITECTURE.md")


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"nlp_lstm.{module} ({LAYERS[_layer(module)][0]}) imports nlp_lstm.{dep} ({LAYERS[_layer(dep)][0]})"
              for module, deps in sorted(_graph().items()) for dep in sorted(deps) if _layer(dep) > _layer(module)]
    assert upward == []


def test_there_are_no_import_cycles() -> None:
    graph = _graph()
    cycles = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == "open":
                cycles.append(" -> ".join([*path[path.index(dep):], dep]))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_walk_sees_imports() -> None:
    """Guards the two tests above against a walker that finds nothing."""
    graph = _graph()
    assert {"config", "models.classifier", "models.tagger"} <= graph["models.build"]
    assert "evaluation.report" in graph["runs"] and "models.build" in graph["model_dir"]
