"""The package's modules import one another in one direction only, read from their source.

    state  <-  kernels  <-  random, autograd  <-  ops  <-  tensor  <-  nn, optim, the tools
           <-  tinygrad_drop (the public names)  <-  data, training, course (built on them, like models/)

(`a <- b`: b may import a, never the other way.) Every import counts, also one inside a
function: a cycle that works only because of import order, or only because an import waits
until a function runs, is still a cycle to a reader. Only imports for type annotations
(`if TYPE_CHECKING:`) are left out: they never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_drop"

# The layer of each top-level part of the package; a module may import only its own layer or lower.
LAYERS = {
    "state": 0, "device": 0,
    "kernels": 1,
    "random": 2, "autograd": 2,
    "ops": 3,
    "tensor": 4, "creation": 4,
    "gradcheck": 5, "nn": 5, "optim": 5, "serialization": 5, "viz": 5, "utils": 5, "benchmark": 5,
    "data": 9, "training": 9, "compat": 9, "run": 9, "course": 9,
}
TOP = 8  # tinygrad_drop/__init__.py gathers the public names from every layer below it


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The package modules an import statement in `module` loads by name."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    targets = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return targets or ([base] if base in MODULES else [])


def imports_of(module: str) -> set[str]:
    """Every import in the module, at any depth, except under `if TYPE_CHECKING:` (those run only
    in a type checker, for annotations)."""
    found, nodes = set(), [ast.parse(MODULES[module].read_text())]
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(target for target in resolve(module, node) if target != module)
        nodes.extend(ast.iter_child_nodes(node))
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def layer(module: str) -> int:
    parts = module.split(".")
    return TOP if len(parts) == 1 else LAYERS[parts[1]]


def test_every_part_of_the_package_has_a_layer():
    assert {module.split(".")[1] for module in MODULES if "." in module} <= set(LAYERS)


def upward_imports(graph: dict, module: str) -> list[str]:
    return sorted(target for target in graph[module] if layer(target) > layer(module))


def find_cycle(graph: dict) -> list[str] | None:
    """A list of modules that import one another in a circle, or None (depth-first search)."""
    status = {module: "new" for module in graph}

    def visit(module, path):
        status[module] = "on path"
        for target in sorted(graph[module]):
            if module.startswith(target + "."):
                continue  # a submodule loads its package's __init__ first: Python's edge, not a cycle
            if status[target] == "on path":
                return path[path.index(target):] + [target]
            if status[target] == "new":
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        status[module] = "done"
        return None

    for module in sorted(graph):
        if status[module] == "new":
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    assert upward_imports(GRAPH, module) == [], f"{module} (layer {layer(module)}) imports from a higher layer"


def test_no_module_imports_itself_through_others():
    assert find_cycle(GRAPH) is None


def test_the_checks_find_an_upward_import_and_a_cycle():
    # an op that imported tensor.py (as autograd/function.py once did) breaks both
    broken = dict(GRAPH)
    broken["tinygrad_drop.ops.unary"] = GRAPH["tinygrad_drop.ops.unary"] | {"tinygrad_drop.tensor"}
    assert upward_imports(broken, "tinygrad_drop.ops.unary") == ["tinygrad_drop.tensor"]
    assert find_cycle(broken) is not None
