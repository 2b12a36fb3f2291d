"""The package's layout: sub-packages by role in layer order, data flowing one way (a layer imports only the
ones before it), no import cycle, and only the listed modules touch the disk."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kansym"

LAYERS = ("base", "nuclear", "network", "symbolic", "checks", "report", "runs", "pipeline", "api")
"""Layer order. base: errors, metrics, choices, safeio; api: the estimator, the CLI and the package's entry points."""
BASE = {"errors", "metrics", "choices", "safeio"}
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


WRITERS = {"runs.store",  # every file of a run, the registry, sweeps and Table 1, through its primitives
           "network.regressor",  # pykan's scratch directory (temporary, removed; pykan writes there, never elsewhere)
           "cli.streams"}  # the process's standard streams (the null device for closed ones), no files


METHODS = {"write_text", "write_bytes", "to_csv", "to_json", "savefig", "saveckpt", "save", "savez", "dump",
           "mkdir", "unlink", "rmtree", "touch", "symlink_to"}  # writes on any object (paths, frames, figures, ...)
FUNCTIONS = {"os": {"replace", "rename", "remove", "unlink", "rmdir", "makedirs", "mkdir", "mkfifo", "link",
                    "symlink"},
             "shutil": {"rmtree", "move", "copy", "copy2", "copyfile", "copytree"},
             "tempfile": {"mkdtemp", "mkstemp", "NamedTemporaryFile"}}  # str.replace and list.remove are not writes


def disk_writes(source: str) -> list[str]:
    """'line call' for every call in ``source`` that writes to the disk."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute):
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
            if node.func.attr in METHODS or node.func.attr in FUNCTIONS.get(owner, ()):
                found.append(f"{node.lineno} {node.func.attr}")
        opener = (isinstance(node.func, ast.Name) and node.func.id == "open") or \
            (isinstance(node.func, ast.Attribute) and node.func.attr in ("open", "fdopen"))
        if opener and any(isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax+")
                          for a in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]):
            found.append(f"{node.lineno} open for writing")
    return found


def test_only_the_writers_touch_the_disk():
    offenders = [f"{name}:{w}" for name, path in modules().items() if name not in WRITERS
                 for w in disk_writes(path.read_text())]
    assert not offenders, offenders
    assert len(WRITERS) <= 3


def test_the_write_finder_finds_planted_writes():
    planted = ("df.to_csv(p)\nos.replace(a, b)\nopen(p, 'w')\nPath(p).open(mode='a')\nfig.savefig(p)\n"
               "shutil.rmtree(d)\ntext.replace('a', 'b')\nitems.remove(3)\nopen(p)\n")
    assert [w.split()[1] for w in disk_writes(planted)] == ["to_csv", "replace", "open", "open", "savefig", "rmtree"]


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


CORE = {"nuclear", "network", "symbolic", "checks", "report", "runs"}
MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """'name (lines)' of every function in ``source`` longer than ``limit`` lines."""
    return [f"{n.name} ({n.end_lineno - n.lineno + 1})" for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > limit]


def test_core_functions_are_short():
    long = [f"{name}: {f}" for name, path in modules().items() if layer(name) in CORE
            for f in long_functions(path.read_text())]
    assert not long, long
    assert long_functions("def f():\n" + "    x = 1\n" * 61) == ["f (62)"]


RUN_WRITER = "pipeline.writer"
WRITING_PRIMITIVES = {"write_csv", "write_json_atomic", "write_text_atomic", "write_bytes_atomic", "save_figure",
                      "save_figures", "save_network", "save_pykan", "write_formula", "remove", "make_dir"}


def run_writes(source: str) -> list[str]:
    """Writing primitives of kansym.runs that ``source`` imports."""
    return sorted({a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith("kansym.runs") for a in node.names
                   if a.name in WRITING_PRIMITIVES})


def test_stages_compute_and_one_writer_writes_the_run():
    """discover and the stage reruns compute (pipeline.stages, pipeline.discovery) and write only through the run
    writer; the writer is the one pipeline module of a run directory that imports the writing primitives."""
    mods = modules()
    for name in ("pipeline.discovery", "pipeline.stages"):
        assert run_writes(mods[name].read_text()) == [], name
    assert run_writes(mods[RUN_WRITER].read_text())
    assert run_writes("from kansym.runs.store import RunDir, write_csv\n") == ["write_csv"]
