"""The package's layout: data flows one way, so no module imports (directly or not) one that imports it."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kansym"


def import_graph() -> dict[str, set[str]]:
    """module -> kansym modules it imports, at the top or inside functions."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph = {}
    for name in modules:
        deps = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kansym":
                parts = node.module.split(".")
                deps |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("kansym.")}
        graph[name] = {d for d in deps if d in modules and d != name}
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


def test_core_modules_do_not_import_the_orchestrator_or_the_cli():
    graph = import_graph()
    for name, deps in graph.items():
        if name not in ("cli", "__main__", "pipeline", "table1", "estimator", "sweep"):  # the API layers
            assert not deps & {"pipeline", "cli"}, name


WRITERS = {"runs", "export", "figures", "pipeline", "table1", "sweep",  # runs, registry, figures, tables
           "network", "recipe", "member",  # checkpoints and the jobs of ensemble members (scratch or kan/)
           "crosscheck",  # PySR's child process gets its data through a temporary directory
           "streams"}  # the process's standard streams (the null device for closed ones), no files


def test_only_the_writers_touch_the_disk():
    calls = {"write_text", "write_bytes", "to_csv", "savefig", "saveckpt", "save", "savez", "dump", "mkdir",
             "unlink", "rmtree", "rename", "replace"}
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.stem in WRITERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls:
                if node.func.attr in ("replace", "rename") and not (isinstance(node.func.value, ast.Name)
                                                                    and node.func.value.id == "os"):
                    continue  # str.replace, dataclasses.replace, DataFrame.rename
                offenders.append(f"{path.stem}:{node.lineno} {node.func.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open" and \
                    any(isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax")
                        for a in node.args[1:2]):
                offenders.append(f"{path.stem}:{node.lineno} open for writing")
    assert not offenders, offenders


def test_kansym_imports_are_at_the_top_except_in_the_cli():
    late = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.stem in ("cli", "__init__"):  # the CLI imports on demand to start fast; __init__ is lazy
            continue
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        late += [f"{path.stem}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 and n.module.split(".")[0] == "kansym" and id(n) not in top]
    assert not late, late
