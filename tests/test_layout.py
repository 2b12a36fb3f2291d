"""The package's layout: sub-packages by role in layer order, data flowing one way (a layer imports only the
ones before it), no import cycle, and only the listed modules touch the disk."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kansym"

LAYERS = ("base", "runs", "nuclear", "network", "symbolic", "checks", "report", "pipeline", "api")
"""Layer order. base: errors, metrics, choices; api: the estimator, the CLI and the package's entry points."""
BASE = {"errors", "metrics", "choices"}
API = {"estimator", "cli", "__init__", "__main__"}


def modules() -> dict[str, Path]:
    """Dotted module name (relative to kansym, e.g. 'nuclear.tables', 'nuclear' for its __init__) -> file."""
    out = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        parts = p.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def layer(module: str) -> str:
    top = module.split(".")[0]
    if top in BASE:
        return "base"
    if top in API:
        return "api"
    return top


def _resolve(name: str, known) -> str | None:
    """The kansym module an import names ('kansym.nuclear.tables' -> 'nuclear.tables'), or None."""
    parts = name.split(".")
    if parts[0] != "kansym":
        return None
    rel = ".".join(parts[1:])
    while rel and rel not in known:
        rel = rel.rpartition(".")[0]
    return rel or None


def import_graph() -> dict[str, set[str]]:
    """module -> kansym modules it imports, at the top or inside functions ('from kansym.x import y' imports
    kansym.x.y when that is a module, else kansym.x)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kansym":
                for a in node.names:
                    dep = _resolve(f"{node.module}.{a.name}", known) if f"{node.module[7:]}.{a.name}".lstrip(".") \
                        in known else _resolve(node.module, known)
                    deps.add(dep)
            elif isinstance(node, ast.Import):
                deps |= {_resolve(a.name, known) for a in node.names}
        graph[name] = {d for d in deps if d and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_sits_in_a_layer():
    assert {layer(m) for m in modules()} <= set(LAYERS), sorted({layer(m) for m in modules()} - set(LAYERS))


def test_layers_import_only_the_layers_before_them():
    """A package's __init__ may import its own modules; nothing imports a later layer."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    offenders = [f"{m} -> {d}" for m, deps in import_graph().items() for d in deps
                 if rank[layer(d)] > rank[layer(m)]]
    assert not offenders, offenders


def test_layer_check_finds_a_planted_offence():
    rank = {name: i for i, name in enumerate(LAYERS)}
    assert rank[layer("nuclear.tables")] < rank[layer("symbolic.formula")] < rank[layer("cli.commands")]
    assert layer("errors") == "base" and layer("estimator") == "api" and layer("cli") == "api"


WRITERS = {"runs.store", "report.export", "report.figures", "pipeline.discovery", "pipeline.table1",
           "pipeline.sweep",  # runs, registry, figures, tables
           "network.regressor", "pipeline.recipe", "network.member",  # checkpoints and the jobs of ensemble members
           "checks.crosscheck",  # PySR's child process gets its data through a temporary directory
           "cli.streams"}  # the process's standard streams (the null device for closed ones), no files


def test_only_the_writers_touch_the_disk():
    calls = {"write_text", "write_bytes", "to_csv", "savefig", "saveckpt", "save", "savez", "dump", "mkdir",
             "unlink", "rmtree", "rename", "replace"}
    offenders = []
    for name, path in modules().items():
        if name in WRITERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls:
                if node.func.attr in ("replace", "rename") and not (isinstance(node.func.value, ast.Name)
                                                                    and node.func.value.id == "os"):
                    continue  # str.replace, dataclasses.replace, DataFrame.rename
                offenders.append(f"{name}:{node.lineno} {node.func.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open" and \
                    any(isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax")
                        for a in node.args[1:2]):
                offenders.append(f"{name}:{node.lineno} open for writing")
    assert not offenders, offenders


def test_kansym_imports_are_at_the_top_except_in_the_cli():
    late = []
    for name, path in modules().items():
        if name.startswith("cli") or name == "__init__":  # the CLI imports on demand to start fast; __init__ is lazy
            continue
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        late += [f"{name}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 and n.module.split(".")[0] == "kansym" and id(n) not in top]
    assert not late, late


def test_each_sub_package_re_exports_what_it_lists():
    import importlib

    for name in modules():
        if "." not in name and (PACKAGE / name).is_dir():
            pkg = importlib.import_module(f"kansym.{name}")
            assert pkg.__doc__ and pkg.__all__, name
            assert all(hasattr(pkg, n) for n in pkg.__all__), name
