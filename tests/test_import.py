import ast
import subprocess
import sys
from pathlib import Path


def test_importing_scratchnet_imports_neither_torch_nor_sklearn():
    code = (
        "import sys, scratchnet, scratchnet.nn, scratchnet.optim, scratchnet.data, scratchnet.training, "
        "scratchnet.gradcheck; print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_library_core_holds_no_command_line_application():
    code = (
        "import sys, scratchnet, scratchnet.nn, scratchnet.optim, scratchnet.models, scratchnet.data, "
        "scratchnet.training, scratchnet.metrics, scratchnet.gradcheck, scratchnet.serialization; "
        "print(sorted(m for m in ('argparse', 'scratchnet.cli') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _import_graph(package_dir):
    """{module: modules it imports}, read from the source (imports inside functions count too)."""
    root = package_dir.parent
    modules = {}
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                edges.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                             else node.module for alias in node.names)
        graph[name] = {edge for edge in edges if edge in modules and edge != name}
    return graph


def _cycles(graph):
    """Every import cycle, each as a list of modules, found by depth-first search."""
    found, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_import_cycles():
    for package in ("scratchnet", "parity", "torchnet"):
        assert _cycles(_import_graph(Path(__file__).parent.parent / package)) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_parity_uses_only_public_scratchnet_names():
    private = []
    for path in (Path(__file__).parent.parent / "parity").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scratchnet"):
                names += [f"{node.module}.{alias.name}" for alias in node.names]
            private += [f"{path.name}: {name}" for name in names
                        if name.startswith("scratchnet") and any(part.startswith("_") for part in name.split("."))]
    assert private == []
