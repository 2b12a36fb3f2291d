"""Hostile formula texts: read as data, never run, never hang; each is a one-line message (exit 2 in the CLI)."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from typer.testing import CliRunner

from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.symbolic.exprparse import parse_equation
from kansym.symbolic.srepr_reader import parse_srepr

runner = CliRunner()


def _param_edit(k: int, **fields):
    """An edit of parameter ``k`` of a formula entry that keeps the entry self-consistent (its shorthand and relative
    uncertainty follow the new value and error), so that the checks against the run's data are what refuse it."""
    from kansym.symbolic.latex import shorthand

    def edit(entry):
        p = entry["parameters"][k]
        p.update({f: v(p[f]) if callable(v) else v for f, v in fields.items()})
        p["shorthand"] = shorthand(p["value"], p["stderr"])
        p["relative_uncertainty"] = abs(p["stderr"] / p["value"]) if p["stderr"] is not None and p["value"] else None
    return edit
SHELL = '__import__("os").system("touch pwned")'

SREPR_PAYLOADS = {
    "string concatenation evaluated by SymPy": "exp('_'+'_imp'+'ort_'+'_(\"os\").system(\"touch pwned\")')",
    "code string inside a zero product": f"Mul(Integer(0), exp('{SHELL}'))",
    "bare import call": SHELL,
    "lambda": "lambda: 0",
    "attribute access": "Mul(Symbol('Z'), Symbol('Z')).__class__",
    "keyword with code": "Symbol('Z', real=__import__)",
    "symbol name with shell text": "Symbol('Z; rm -rf /')",
    "unknown constructor": "Function('f')(Symbol('Z'))",
    "star arguments": "Add(*[Symbol('Z')]*10**8)",
    "exponent tower": "Pow(Integer(9), Pow(Integer(9), Integer(9)))",
    "huge numeric power": "Pow(Integer(" + "9" * 30 + "), Integer(64))",
    "4000-digit integer": "Integer(" + "9" * 4000 + ")",
    "400 levels deep": "Add(" * 400 + "Symbol('Z')" + ")" * 400,
    "division by zero": "Mul(Symbol('Z'), Pow(Integer(0), Integer(-1)))",
    "NaN float": "Float('nan', precision=53)",
    "infinite float": "Float('inf', precision=53)",
    "Rational over zero": "Rational(1, 0)",
    "empty": "",
    "not text": 12,
    "unbalanced": "Add(Symbol('Z'), Symbol('N')",
    "trailing text": "Symbol('Z') Symbol('N')",
    "bare unknown name": "zoo",
    "imaginary unit": "Mul(Pow(Integer(-1), Rational(1, 2)), Symbol('Z'))",
    "too long": "Add(" + ", ".join(["Symbol('Z')"] * 30_000) + ")",
    "float beyond double precision": "Mul(Float('1e999999999', precision=53), Symbol('Z', real=True))",
}


@pytest.mark.parametrize("name", list(SREPR_PAYLOADS))
def test_hostile_srepr_is_refused_quickly_and_runs_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(KansymError) as err:
        parse_srepr(SREPR_PAYLOADS[name], where="formula.json")
    assert time.perf_counter() - t0 < 5
    assert "\n" not in str(err.value) and str(err.value).startswith("formula.json")
    assert not any(tmp_path.iterdir())  # nothing executed, nothing written


EQUATION_PAYLOADS = {
    "tower with ^": "9^9^9",
    "tower with **": "9**9**9",
    "tower through pow()": "pow(Z,pow(9,pow(9,9)))",
    "400 parentheses": "(" * 400 + "Z" + ")" * 400,
    "500 signs": "-" * 500 + "Z",
    "division by zero": "Z/0",
    "exponent 1/0": "Z^(1/0)",
    "one-megabyte line": "Z+" * 500_000 + "Z",
    "unknown function": "__import__(Z)",
    "non-ASCII": "Z \u00d7 N",
    "two arguments to sqrt": "sqrt(Z, N)",
    "imaginary unit": "sqrt(-1)*Z",
}


@pytest.mark.parametrize("name", list(EQUATION_PAYLOADS))
def test_hostile_equation_is_refused_quickly(name):
    variables = {"Z": sp.Symbol("Z"), "N": sp.Symbol("N")}
    t0 = time.perf_counter()
    with pytest.raises(KansymError):
        parse_equation(EQUATION_PAYLOADS[name], variables)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("entry", sorted(Path(__file__).resolve().parents[1].glob("formulas/*.json")),
                         ids=lambda p: p.stem)
def test_registry_formulas_read_back_exactly(entry):
    text = json.loads(entry.read_text())["srepr"]
    assert sp.srepr(parse_srepr(text)) == text


def test_srepr_reader_accepts_what_kansym_writes():
    Z, N, c = sp.symbols("Z N c_1", real=True)
    expr = (sp.Float(0.5) * Z + sp.Rational(2, 3) * sp.sqrt(N) - sp.exp(c * Z) + sp.Abs(N - Z) ** sp.Rational(1, 3)
            * sp.sign(N - Z) + sp.log(Z) * sp.sin(N) + sp.cos(Z) + sp.tanh(N) + sp.E * Z + sp.pi + Z ** c)
    assert parse_srepr(sp.srepr(expr)) == expr


def test_cli_export_of_a_hostile_formula_file_runs_nothing(formula_run, tmp_path, monkeypatch):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    entry = json.loads((run / "formula.json").read_text())
    entry["srepr"] = SREPR_PAYLOADS["code string inside a zero product"]
    (run / "formula.json").write_text(json.dumps(entry))
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["export", str(run), "--name", "evil", "--registry", str(tmp_path / "registry")])
    assert r.exit_code == 2 and "exp needs expressions as arguments" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "registry").exists()


def test_formula_entry_with_unknown_symbols_is_refused(formula_run):
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    entry["srepr"] = "Mul(Symbol('Z', real=True), Symbol('secret', real=True))"
    with pytest.raises(KansymError, match="secret"):
        formula_from_entry(entry)
    with pytest.raises(KansymError, match="JSON object"):
        formula_from_entry([entry])


def _edit_first_parameter(key, value):
    def apply(entry):
        entry["parameters"][0][key] = value
    return apply


ENTRY_PAYLOADS = {
    "bound method as srepr": lambda e: e.update(srepr="<bound method Expr.expand of Z>"),
    "NaN srepr float": lambda e: e.update(srepr="Float('nan', precision=53)"),
    "NaN parameter value": _edit_first_parameter("value", "NaN"),
    "infinite parameter value": _edit_first_parameter("value", "Infinity"),
    "parameter value as text": _edit_first_parameter("value", "1e3; rm -rf /"),
    "boolean parameter value": _edit_first_parameter("value", True),
    "negative standard error": _edit_first_parameter("stderr", -0.5),
    "NaN standard error": _edit_first_parameter("stderr", "NaN"),
    "correlations of the wrong shape": lambda e: e.update(correlations=[[1.0]]),
    "parameters not a list": lambda e: e.update(parameters="a,b"),
    "correlation of 5": lambda e: e["correlations"][0].__setitem__(-1, 5.0),
    "correlation as text": lambda e: e["correlations"][0].__setitem__(-1, "0.5"),
    "NaN correlation between determined constants": lambda e: e["correlations"][0].__setitem__(-1, "NaN"),
    "asymmetric correlations": lambda e: (e["correlations"][0].__setitem__(-1, 0.3),
                                          e["correlations"][-1].__setitem__(0, -0.3)),
    "diagonal not one": lambda e: e["correlations"][0].__setitem__(0, 0.5),
    "parameter named like a variable": lambda e: e["parameters"][0].update(name="Z"),
    "symbols not declared real": lambda e: e.update(srepr=e["srepr"].replace(", real=True", "")),
    "variable not among the run's features": lambda e: e.update(variables=e["variables"] + ["Q"]),
    "variables missing": lambda e: e.pop("variables"),
    "selection bound as text": lambda e: e["selection"].update(min_z="0$ \\input{/etc/passwd} $"),
    "mass-uncertainty cut as text": lambda e: e["selection"].update(max_unc="\\immediate\\write18{touch pwned}"),
    "selection not an object": lambda e: e.update(selection="all"),
    "integer beyond the digit limit": lambda e: e["metrics"].update(huge="HUGE"),
}


@pytest.mark.parametrize("name", list(ENTRY_PAYLOADS))
def test_cli_export_of_a_broken_formula_entry_writes_nothing(name, formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    entry = json.loads((run / "formula.json").read_text())
    ENTRY_PAYLOADS[name](entry)
    (run / "formula.json").write_text(json.dumps(entry).replace('"HUGE"', "9" * 5000))
    r = runner.invoke(app, ["export", str(run), "--name", "x", "--registry", str(tmp_path / "registry")])
    assert r.exit_code == 2 and r.output.startswith("Error:") and "Traceback" not in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "registry").exists()


def test_export_reads_variables_by_name(formula_run, tmp_path):
    """A formula entry that lists its variables in another order gives the same numbers when read by name; a run's
    formula.json must list them in the run's order, though (a reader taking them by position would be misled):
    export refuses it (probe 28)."""
    from kansym.symbolic.formula import formula_from_entry
    from kansym.pipeline.registry import export_formula

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    names = tuple(entry["variables"])
    F = formula_from_entry(entry)
    entry["variables"] = list(reversed(entry["variables"]))
    G = formula_from_entry(entry).for_columns(names)
    X = np.array([[50.0, 70.0], [82.0, 126.0]])
    assert np.array_equal(F.evaluate(X), G.evaluate(X))
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    (run / "formula.json").write_text(json.dumps(entry))
    with pytest.raises(KansymError, match="variables are not config.json's features"):
        export_formula(run, "swapped", tmp_path / "reg")
    assert not (tmp_path / "reg" / "swapped.json").exists()


LATEX_TEXT_PAYLOADS = {
    "subset": "0$ \\input{/etc/passwd} \\immediate\\write18{touch pwned} $",
    "split": "random:0.8} \\input{/etc/passwd",
    "model": "\\write18{touch pwned}",
}


@pytest.mark.parametrize("field", list(LATEX_TEXT_PAYLOADS))
def test_text_from_a_formula_file_is_checked_against_its_run(field, formula_run, tmp_path):
    """The provenance of an entry comes from the run's checked config.json; a formula.json that says otherwise
    (an edited selection, split or model) is refused naming the field, and nothing is written."""
    from kansym.pipeline.registry import export_formula

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    entry = json.loads((run / "formula.json").read_text())
    payload = LATEX_TEXT_PAYLOADS[field]
    if field == "subset":
        entry["selection"]["subset"] = payload
    else:
        entry[field] = payload
    (run / "formula.json").write_text(json.dumps(entry))
    where = "selection.subset" if field == "subset" else field  # the differing key itself is named
    with pytest.raises(KansymError, match=f"field '{where}'.*disagrees with config.json"):
        export_formula(run, "escaped", tmp_path / "reg")
    assert not (tmp_path / "reg").exists() or not any((tmp_path / "reg").iterdir())


@pytest.mark.parametrize("field", list(LATEX_TEXT_PAYLOADS))
def test_text_reaches_latex_escaped(field, formula_run, tmp_path):
    """Whatever text a caller passes as provenance reaches the caption through the one escaping function."""
    from kansym.runs.registry import write_formula
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    context = {k: entry[k] for k in ("target", "model", "selection", "split")}
    payload = LATEX_TEXT_PAYLOADS[field]
    if field == "subset":
        context["selection"] = {**context["selection"], "subset": payload}
    else:
        context[field] = payload
        if field == "model":  # the caption names the model of a residual target
            context["target"] = "residual"
    _, tex = write_formula(tmp_path / "reg", "escaped", formula_from_entry(entry), entry["metrics"], context, "B")
    text = tex.read_text()
    assert "\\input" not in text and "\\write18" not in text and "\\immediate" not in text
    assert "\\textbackslash{}input" in text or "\\textbackslash{}write18" in text


def test_failed_export_leaves_nothing_and_the_retry_works(formula_run, tmp_path):
    """An entry that cannot be printed (an integer beyond Python's digit limit) leaves no file; fixed, the
    same name is free."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    from kansym.runs.registry import write_formula
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((run / "formula.json").read_text())
    F = formula_from_entry(entry)
    reg = tmp_path / "reg"
    with pytest.raises(KansymError, match="cannot be written"):
        write_formula(reg, "x", F, {**entry["metrics"], "huge": 10 ** 5000}, {}, "B")
    assert not reg.exists() or sorted(p.name for p in reg.iterdir()) == []
    js, tex = write_formula(reg, "x", F, entry["metrics"], {}, "B")
    assert sorted(p.name for p in reg.iterdir()) == ["x.json", "x.tex"]
    with pytest.raises(KansymError, match="already exists"):
        write_formula(reg, "x", F, entry["metrics"], {}, "B")
    assert sorted(p.name for p in reg.iterdir()) == ["x.json", "x.tex"]


def test_fifo_as_a_run_file_is_refused_at_once(formula_run, tmp_path):
    import os

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    for name in ("formula.json", "metrics.json"):
        (run / name).unlink()
        os.mkfifo(run / name)
    t0 = time.perf_counter()
    r = runner.invoke(app, ["export", str(run), "--name", "x", "--registry", str(tmp_path / "reg")])
    assert r.exit_code == 2 and "not a regular file" in r.output and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "not a regular file" in r.output and "Traceback" not in r.output, r.output
    assert time.perf_counter() - t0 < 10


def test_deeply_nested_json_is_a_message(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    (run / "formula.json").write_text("[" * 100_000 + "]" * 100_000)
    r = runner.invoke(app, ["export", str(run), "--name", "x", "--registry", str(tmp_path / "reg")])
    assert r.exit_code == 2 and "nested too deeply" in r.output and "Traceback" not in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("text", [
    "Pow(" * 150 + "Symbol('Z', real=True)" + ", Integer(2))" * 150,
    "Mul(Pow(Symbol('Z', real=True), Integer(60)), Pow(Symbol('Z', real=True), Integer(60)))",
    "exp(exp(Float('1e40', precision=53)))",
])
def test_folded_powers_and_overflow_are_refused(text):
    t0 = time.perf_counter()
    with pytest.raises(KansymError, match="beyond|cannot be evaluated"):
        parse_srepr(text)
    assert time.perf_counter() - t0 < 5


def test_large_hall_of_fame_and_huge_engine_formulas_are_bounded(formula_run, tmp_path):
    from kansym.checks.crosscheck import MAX_HOF_ROWS, import_hof

    rows = "".join(f'{k % 30 + 1},{1.0 / (k + 1)},"Z + {k}"\n' for k in range(MAX_HOF_ROWS + 1))
    f = tmp_path / "big.csv"
    f.write_text("Complexity,Loss,Equation\n" + rows)
    t0 = time.perf_counter()
    with pytest.raises(KansymError, match="more than"):
        import_hof(f, ("Z", "N"))
    product = "*".join(f"(Z + {i}.5*N + {i})" for i in range(30))
    g = tmp_path / "product.csv"
    g.write_text(f'Complexity,Loss,Equation\n90,0.5,"{product}"\n')
    r = runner.invoke(app, ["crosscheck", str(formula_run.run_dir), "--pysr-hof", str(g), "--json"])
    assert time.perf_counter() - t0 < 30 and "Traceback" not in r.output
    assert r.exit_code in (0, 2), r.output


# --------------------------------------------------------------------------- options and run directories

BAD_DISCOVER_OPTIONS = {
    "a model for a be target": ["--target", "be", "--model", "ws4"],
    "a function listed twice in --lib": ["--lib", "x,x^2,x"],
    "the same power twice in --lib": ["--lib", "x^(2/3),x^(4/6)"],
    "a library named twice": ["--lib", "physics+physics"],
    "a chain by symbol and by Z": ["--chains", "Zr,40"],
    "a chain in two cases": ["--chains", "Zr,zr"],
    "negative seed": ["--seed", "-1"],
    "seed beyond 2^32": ["--seed", "99999999999999999999"],
    "r2-min NaN": ["--r2-min", "nan"],
    "r2-min above 1": ["--r2-min", "1.5"],
    "negative min-z": ["--min-z", "-5"],
    "max-unc NaN": ["--max-unc", "nan"],
    "infinite cross-check budget": ["--crosscheck-budget", "inf"],
    "lamb NaN": ["--lamb", "nan"],
    "lamb 1e308": ["--lamb", "1e308"],  # probe 17
    "negative lamb": ["--lamb", "-1"],
    "width 100000": ["--width", "100000"],
    "width 0": ["--width", "0"],
    "grid 5000": ["--grid", "5000", "--refine", "6000"],
    "spline order 0": ["--k", "0"],
    "zero steps": ["--steps", "0"],
    "unknown element chain": ["--chains", "Xx"],
    "ensemble 1 with uncertainty": ["--ensemble", "1", "--uncertainty"],
    "division by zero in --lib": ["--lib", "x^(1/0)"],
    "split fraction 2": ["--split", "random:2"],
    "empty --lib": ["--lib", ""],
    "--lib of commas only": ["--lib", " , "],
    "infinite max-unc": ["--max-unc", "inf"],
    "min-n above 300": ["--min-n", "400"],
}


def _clean_exit(result, tmp_path):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.output.strip().startswith("Error:")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


BAD_CHOICES = {  # parsed by the CLI as Enum options: the console script's one-line usage error
    "unknown aggregate rule": (["--aggregate", "mode"], "'median', 'mean'"),
    "unknown beyond-range rule": (["--beyond-range", "wrap"], "'clamp', 'spline'"),
    "unknown trainer": (["--trainer", "adam"], "'fast', 'pykan'"),
    "unknown target with markup": (["--target", "[/]bogus[red]"], "'be', 'me', 'residual'"),
    "unknown stage": (["--stage", "formula"], "'kan', 'symbolic', 'all'"),
    "unknown engine": (["--crosscheck", "eureqa"], "'none', 'auto', 'pyoperon', 'pysr'"),
}


@pytest.mark.parametrize("name", list(BAD_CHOICES))
def test_unknown_choice_is_one_line_listing_the_choices(name, tmp_path):
    args, choices = BAD_CHOICES[name]
    r = subprocess.run([sys.executable, "-m", "kansym", "discover", *args, "--runs-dir", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and choices in lines[0], r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", list(BAD_DISCOVER_OPTIONS))
def test_bad_discover_option_is_a_message_before_training(name, tmp_path):
    t0 = time.perf_counter()
    r = runner.invoke(app, ["discover", *BAD_DISCOVER_OPTIONS[name], "--runs-dir", str(tmp_path / "runs")])
    _clean_exit(r, tmp_path)
    assert time.perf_counter() - t0 < 10


BAD_STAGE_OPTIONS = {
    "symbolic: empty --lib": ["symbolic", "--lib", ""],
    "symbolic: r2-min NaN": ["symbolic", "--r2-min", "nan"],
    "crosscheck: time budget 1e300": ["crosscheck", "--time-budget", "1e300"],
    "crosscheck: infinite time budget": ["crosscheck", "--time-budget", "inf"],
    "crosscheck: maxsize 1e9": ["crosscheck", "--maxsize", "1000000000"],
    "crosscheck: negative seed": ["crosscheck", "--seed", "-1"],
    "crosscheck: hall of fame is a directory": ["crosscheck", "--pysr-hof", "."],
    "extrapolate: negative beyond": ["extrapolate", "--beyond", "-1"],
    "export: empty name": ["export", "--name", ""],
}


@pytest.mark.parametrize("name", list(BAD_STAGE_OPTIONS))
def test_bad_stage_option_is_a_message_and_leaves_the_run(name, formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    cmd, *args = BAD_STAGE_OPTIONS[name]
    t0 = time.perf_counter()
    r = runner.invoke(app, [cmd, str(run), *args, "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and r.output.startswith("Error:") and "Traceback" not in r.output, r.output
    assert time.perf_counter() - t0 < 10
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [run.name]


@pytest.mark.parametrize("args", [["--min-z", "-5"], ["--max-unc", "nan"], ["--max-unc", "inf"], ["--min-n", "1000"]])
def test_bad_data_cut_is_a_message(args):
    r = runner.invoke(app, ["data", *args])
    assert r.exit_code == 2 and r.output.startswith("Error:") and "Traceback" not in r.output


def test_markup_in_a_message_is_printed_as_text(tmp_path):
    r = runner.invoke(app, ["discover", "--target", "[/]bogus[red]", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "[/]bogus[red]" in r.output


def test_runs_dir_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = runner.invoke(app, ["discover", "--runs-dir", str(f)])
    assert r.exit_code == 2 and "not a directory" in r.output and f.read_text() == "x"
    r = runner.invoke(app, ["discover", "--runs-dir", str(f / "runs")])
    assert r.exit_code == 2 and "cannot be created" in r.output and f.read_text() == "x"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_runs_dir_that_cannot_be_created():
    t0 = time.perf_counter()
    r = runner.invoke(app, ["discover", "--runs-dir", "/proc/kansym-no-such-dir/runs"])
    assert r.exit_code == 2 and "cannot create the runs directory" in r.output and "Traceback" not in r.output
    assert time.perf_counter() - t0 < 10  # before any training


@pytest.mark.parametrize("args,match", [
    (["table1", "--models", ""], "at least one mass model"),
    (["table1", "--models", " , "], "empty element"),
    (["table1", "--models", "ws4", "--trainer", "adam"], "'adam' is not one of 'fast', 'pykan'"),
])
def test_empty_lists_refused(args, match, tmp_path):
    r = runner.invoke(app, [*args, "--out-dir", str(tmp_path / "t1")])
    assert r.exit_code == 2 and match in r.output and not (tmp_path / "t1").exists()


CORRUPTIONS = {
    "config is a list": ("config.json", b"[]"),
    "config is empty object": ("config.json", b"{}"),
    "metrics truncated": ("metrics.json", b'{"rmse_mev": {"tr'),
    "metrics not UTF-8": ("metrics.json", b"\xff\xfe\x00garbage"),
    "metrics is a number": ("metrics.json", b"3"),
    "importance broken": ("importance.csv", b"\x00\x01,,,\n\xff"),
    "importance without columns": ("importance.csv", b"a,b\n1,2\n"),
}


@pytest.fixture()
def runs_copy(tiny_run, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(tiny_run.run_dir, root / tiny_run.run_dir.name)
    return root, root / tiny_run.run_dir.name


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_show_names_the_broken_file_and_runs_goes_on(name, runs_copy):
    root, run = runs_copy
    healthy = root / ("0-healthy-" + run.name)
    shutil.copytree(run, healthy)
    file, payload = CORRUPTIONS[name]
    (run / file).write_bytes(payload)
    r = runner.invoke(app, ["show", str(run), "--runs-dir", str(root)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert file.split(".")[0] in r.output or "summary" in r.output
    r = runner.invoke(app, ["runs", "--runs-dir", str(root)])
    assert r.exit_code == 0 and healthy.name[:12] in r.output
    if file != "importance.csv" and name != "config is empty object":  # {} lists as unknown ('?') values
        assert "corrupt" in r.output


def test_export_name_and_registry_checked(formula_run, tmp_path):
    r = runner.invoke(app, ["export", str(formula_run.run_dir), "--name", "x" * 300, "--registry", str(tmp_path / "reg")])
    assert r.exit_code == 2 and "1-100" in r.output and not (tmp_path / "reg").exists()
    f = tmp_path / "file"
    f.write_text("x")
    r = runner.invoke(app, ["export", str(formula_run.run_dir), "--name", "ok", "--registry", str(f)])
    assert r.exit_code == 2 and "not a directory" in r.output and f.read_text() == "x"


def test_extrapolate_without_references(formula_run):
    r = runner.invoke(app, ["extrapolate", str(formula_run.run_dir), "--against", ""])
    assert r.exit_code == 2 and "at least one reference" in r.output


def test_formula_entry_with_latex_in_a_parameter_name(formula_run):
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    entry["parameters"][0]["name"] = "\\input{/etc/hostname}"
    with pytest.raises(KansymError, match="letters, digits"):
        formula_from_entry(entry)


# --------------------------------------------------------------------------- honest numerics

def test_constant_with_infinite_derivative_has_undetermined_error():
    from kansym.symbolic.formula import refit, variable_symbols

    (Z,) = variable_symbols(("Z",))
    a, b = sp.symbols("a b", real=True)
    X = np.arange(0, 21, dtype=float)[:, None]
    y = 2 * np.sqrt(np.abs(X[:, 0] - 10)) + 0.01 * np.sin(X[:, 0])
    f = refit(a * sp.sqrt(sp.Abs(Z - b)), {a: 2.0, b: 10.0}, ("Z",), X, y)
    errs = {p.name: p.stderr for p in f.parameters}
    assert errs["b"] is None  # d/db is infinite at Z = b: undetermined, not a made-up number
    assert errs["a"] is not None and 0 < errs["a"] < 0.01
    from kansym.report.export import parameter_rows

    rows = {r["name"]: r for r in parameter_rows(f)}
    assert "undetermined" in rows["b"]["flag"] and rows["b"]["stderr"] is None and "undetermined" not in rows["a"]["flag"]


def test_nan_importance_is_an_error():
    from kansym.network.regressor import normalized

    with pytest.raises(KansymError, match="not finite"):
        normalized(np.array([0.2, np.nan, 0.5]))
    assert np.array_equal(normalized(np.zeros(2)), [0.5, 0.5])


# --------------------------------------------------------------------------- leftovers of crashes

def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_partial_runs_listed_and_cleaned_but_live_ones_kept(tmp_path):
    import os

    from kansym.runs.store import OWNER_FILE

    root = tmp_path / "runs"
    dead, live, orphan = root / ".partial-a-1", root / ".partial-b-2", root / ".partial-c-3"
    for d, pid in ((dead, _dead_pid()), (live, os.getpid()), (orphan, None)):
        d.mkdir(parents=True)
        if pid is not None:
            (d / OWNER_FILE).write_text(str(pid))
    r = runner.invoke(app, ["runs", "--partial", "--runs-dir", str(root)])
    assert r.exit_code == 0 and r.output.count("left by a crash") == 2 and "being written" in r.output
    r = runner.invoke(app, ["clean", "--runs-dir", str(root)])
    assert r.exit_code == 0 and not dead.exists() and not orphan.exists() and live.exists()
    r = runner.invoke(app, ["clean", "--runs-dir", str(root)])  # probe 24: the live one kept, and said so
    assert r.exit_code == 0 and "kept" in r.output and "being written by a running kansym process" in r.output
    live.rename(root / "done")
    r = runner.invoke(app, ["clean", "--runs-dir", str(root)])
    assert r.exit_code == 0 and "nothing to clean" in r.output


def test_stale_scratch_directories_removed(tmp_path, monkeypatch):
    import os
    import tempfile

    from kansym.network.regressor import clean_stale_scratch, scratch_prefix

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"kansym-pykan-{_dead_pid()}-x1"
    mine = Path(tempfile.mkdtemp(prefix=scratch_prefix("ensemble")))
    other = tmp_path / "kansym-notes"
    for d in (stale, other):
        d.mkdir()
    assert clean_stale_scratch() == [stale]
    assert mine.exists() and other.exists() and str(os.getpid()) in mine.name


def test_table1_keeps_an_existing_table(tmp_path):
    out = tmp_path / "t1"
    out.mkdir()
    (out / "table1.csv").write_text("model\nWS4\n")
    r = runner.invoke(app, ["table1", "--models", "ws4", "--out-dir", str(out)])
    assert r.exit_code == 2 and "--force" in r.output and (out / "table1.csv").read_text() == "model\nWS4\n"


def test_concurrent_exports_cannot_both_claim_a_name(formula_run, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from kansym.pipeline.registry import export_formula

    def attempt(_):
        try:
            export_formula(formula_run.run_dir, "same", tmp_path / "reg")
            return "ok"
        except KansymError:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes.count("ok") == 1 and outcomes.count("refused") == 3
    assert json.loads((tmp_path / "reg" / "same.json").read_text())["srepr"]


HOF_PAYLOADS = {
    "exponent tower": b'Complexity,Loss,Equation\n3,0.5,"9^9^9"\n',
    "400 parentheses": b'Complexity,Loss,Equation\n3,0.5,"' + b"(" * 400 + b"Z" + b")" * 400 + b'"\n',
    "not UTF-8": b"Complexity,Loss,Equation\n3,0.5,\"Z\xff\xfe\"\n",
    "one-megabyte line": b'Complexity,Loss,Equation\n3,0.5,"' + b"Z+" * 500_000 + b'Z"\n',
    "division by zero": b'Complexity,Loss,Equation\n3,0.5,"Z/0"\n',
    "4000-digit integer": b'Complexity,Loss,Equation\n3,0.5,"' + b"9" * 4000 + b'*Z"\n',
    "code": b'Complexity,Loss,Equation\n3,0.5,"__import__(\'os\').system(\'touch pwned\')"\n',
    "missing columns": b"a,b\n1,2\n",
    "empty": b"",
    "complexity not a number": b'Complexity,Loss,Equation\nx,0.5,"Z"\n',
}


@pytest.mark.parametrize("name", list(HOF_PAYLOADS))
def test_hostile_hall_of_fame_is_refused(name, tmp_path, monkeypatch):
    from kansym.checks.crosscheck import import_hof

    monkeypatch.chdir(tmp_path)
    f = tmp_path / "hall_of_fame.csv"
    f.write_bytes(HOF_PAYLOADS[name])
    t0 = time.perf_counter()
    with pytest.raises(KansymError) as err:
        import_hof(f, ("Z", "N"))
    assert time.perf_counter() - t0 < 5 and "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall_of_fame.csv"]


def test_symbolic_rerun_without_metrics_rewrites_nothing(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    (run / "metrics.json").unlink()
    before = (run / "formula.json").read_bytes()
    r = runner.invoke(app, ["symbolic", str(run), "--lib", "poly"])
    assert r.exit_code == 2 and "metrics.json" in r.output
    assert (run / "formula.json").read_bytes() == before


# --------------------------------------------------------------------------- staged reruns of a stage

def _snapshot(run: Path) -> dict:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture()
def run_copy(formula_run, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(formula_run.run_dir, root / formula_run.run_dir.name)
    return root / formula_run.run_dir.name


def test_symbolic_rerun_removes_results_of_the_old_formula(run_copy, tmp_path):
    from kansym.pipeline.discovery import rerun_crosscheck, rerun_extrapolate, rerun_symbolic
    from kansym.runs.store import RunDir

    rerun_extrapolate(run_copy, ("Zr",), beyond=2, against=("frdm12",))
    hof = tmp_path / "hall_of_fame.csv"
    hof.write_text("Complexity,Loss,Equation\n3,1.0,\"8.0 * Z + 8.0 * N\"\n")
    rerun_crosscheck(run_copy, pysr_hof=hof)
    m = RunDir(run_copy).metrics
    assert {"extrapolation", "far_extrapolation", "crosscheck"} <= set(m)
    assert (run_copy / "figures" / "chain_Zr.png").exists() and (run_copy / "crosscheck.json").exists()
    result = rerun_symbolic(run_copy, lib="poly", max_constants=4)
    assert set(result["removed"]) >= {"crosscheck.json", "crosscheck.tex", "extrapolation.csv", "extrapolation.json",
                                      "figures/chain_Zr.png"}
    m = RunDir(run_copy).metrics
    assert not {"extrapolation", "far_extrapolation", "crosscheck"} & set(m)
    assert not list(run_copy.parent.glob(".partial-*"))
    assert [p.name for p in run_copy.parent.iterdir()] == [run_copy.name]


def test_failed_rerun_leaves_the_run_byte_for_byte(run_copy):
    before = _snapshot(run_copy)
    r = runner.invoke(app, ["symbolic", str(run_copy), "--lib", "0", "--r2-min", "0.999", "--poor-edges", "error"])
    assert r.exit_code == 2 and "poorly fitted" in r.output and "Traceback" not in r.output
    assert _snapshot(run_copy) == before
    assert [p.name for p in run_copy.parent.iterdir()] == [run_copy.name]


def test_interrupted_update_leaves_the_run_untouched(run_copy):
    from kansym.runs.store import RunUpdate

    before = _snapshot(run_copy)
    with pytest.raises(KeyboardInterrupt):
        with RunUpdate(run_copy) as path:
            (path / "formula.json").write_text("half")
            (path / "metrics.json").unlink()
            raise KeyboardInterrupt
    assert _snapshot(run_copy) == before
    assert [p.name for p in run_copy.parent.iterdir()] == [run_copy.name]


def test_update_swaps_the_whole_run(run_copy):
    from kansym.runs.store import RunUpdate

    with RunUpdate(run_copy) as path:
        (path / "formula.json").write_text("{}")
        (path / "metrics.json").write_text("{}")
        assert json.loads((run_copy / "metrics.json").read_text()) != {}  # readers still see the old run
    assert (run_copy / "formula.json").read_text() == "{}" == (run_copy / "metrics.json").read_text()
    assert [p.name for p in run_copy.parent.iterdir()] == [run_copy.name]


def test_concurrent_update_refused_and_killed_update_recovered(run_copy):
    import os
    import subprocess
    import sys

    from kansym.runs.store import OWNER_FILE, RunUpdate

    lock = run_copy.parent / f".partial-{run_copy.name}-u"
    lock.mkdir()
    (lock / OWNER_FILE).write_text(str(os.getpid()))
    r = runner.invoke(app, ["extrapolate", str(run_copy), "--chains", "Zr", "--beyond", "1"])
    assert r.exit_code == 2 and "being updated by another kansym process" in r.output
    shutil.rmtree(lock)
    before = _snapshot(run_copy)
    code = ("import os, signal, sys; from kansym.runs.store import RunUpdate\n"
            "with RunUpdate(sys.argv[1]) as p:\n"
            "    (p / 'formula.json').write_text('half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(run_copy)], capture_output=True, timeout=60)
    assert proc.returncode == -9
    assert _snapshot(run_copy) == before and lock.exists()  # the killed update's copy is left, the run is intact
    r = runner.invoke(app, ["runs", "--partial", "--runs-dir", str(run_copy.parent)])
    assert "left by a crash" in r.output
    with RunUpdate(run_copy):  # a later update takes over the dead one's directory
        pass
    assert [p.name for p in run_copy.parent.iterdir()] == [run_copy.name]


# --------------------------------------------------------------------------- JSON never hides a NaN

def test_non_finite_numbers_are_written_explicitly_and_read_back(tmp_path):
    import math

    from kansym.runs.store import RunDir, write_json_atomic

    obj = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": np.float64("nan"), "d": None,
           "e": np.array([1.0, np.nan])}
    write_json_atomic(tmp_path / "m.json", obj)
    text = (tmp_path / "m.json").read_text()
    assert "null" in text and text.count('"NaN"') == 3 and '"Infinity"' in text and '"-Infinity"' in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    back = RunDir(tmp_path).read_json("m.json")
    assert math.isnan(back["a"]) and back["b"] == [math.inf, -math.inf, 1.5] and back["d"] is None
    assert math.isnan(back["e"][1])


def test_run_files_hold_no_silent_nulls_for_numbers(tiny_run):
    # a run without a test split has NaN test errors: they must be written as "NaN", not null
    text = (tiny_run.run_dir / "metrics.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in metrics.json"))
    m = json.loads(text)
    assert all(v is not None for v in m["rmse_mev"].values())


# --------------------------------------------------------------------------- broken checkpoints

def _json_edit(edit):
    """A file edit: the JSON file read, changed by ``edit`` and written back."""
    def apply(path):
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
    return apply


CHECKPOINT_CORRUPTIONS = {
    "empty scalers.json": ("scalers.json", lambda p: p.write_text("")),
    "scalers.json not JSON": ("scalers.json", lambda p: p.write_text("garbage{[")),
    "empty model_state": ("model_state", lambda p: p.write_bytes(b"")),
    "model_state not a checkpoint": ("model_state", lambda p: p.write_bytes(b"garbage{[")),
    "truncated coarse_state": ("coarse_state", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])),
    "model_config.yml not YAML": ("model_config.yml", lambda p: p.write_text("garbage{[")),
    "foreign scaler fields": ("scalers.json", _json_edit(lambda m: m.update(x_scaler={"mean": [1], "scale": [2]}))),
    "bounds of the wrong shape": ("scalers.json", _json_edit(lambda m: m.update(bounds=[[[1, 2, 3]], [[1]]]))),
    "wrong number of features": ("scalers.json", _json_edit(lambda m: m.update(n_features_in=7))),
    "zero output scale": ("scalers.json", _json_edit(lambda m: m["y_scaler"].update(scale=[0.0]))),
    "negative output scale": ("scalers.json", _json_edit(lambda m: m["y_scaler"].update(scale=[-1.0]))),
    "unknown baseline kind": ("scalers.json", _json_edit(lambda m: m["trend"].update(kind="__import__"))),
    "baseline with a foreign term": ("scalers.json", _json_edit(lambda m: m["trend"].update(
        terms=["volume", "os.system"][:len(m["trend"]["terms"])] or ["os.system"], coef=[1.0]))),
    "a million-node width": ("scalers.json", _json_edit(lambda m: m.update(width=[1_000_000]))),
    "scalers.json a FIFO": ("scalers.json", lambda p: (p.unlink(), __import__("os").mkfifo(p))),
    "model_state a FIFO": ("model_state", lambda p: (p.unlink(), __import__("os").mkfifo(p))),
}


@pytest.mark.parametrize("name", list(CHECKPOINT_CORRUPTIONS))
def test_broken_checkpoint_is_named_and_the_run_kept(name, run_copy):
    file, corrupt = CHECKPOINT_CORRUPTIONS[name]
    corrupt(run_copy / "kan" / file)
    before = _snapshot(run_copy)
    r = runner.invoke(app, ["symbolic", str(run_copy), "--lib", "poly"])
    if "FIFO" in name:  # the rerun checks that the run can be copied first: refused before anything is read
        assert r.exit_code == 2 and "is not a file or folder (a named pipe" in r.output \
            and len(r.output.strip().splitlines()) == 1, r.output
        from kansym.runs.artifacts import load_network

        t0 = time.perf_counter()
        with pytest.raises(KansymError, match="cannot load the KAN checkpoint.*(not a regular file)"):
            load_network(run_copy / "kan")  # read in place: refused at once, never waited on
        assert time.perf_counter() - t0 < 10 and _snapshot(run_copy) == before
        return
    assert r.exit_code == 2 and r.output.startswith("Error: cannot load the KAN checkpoint"), r.output
    assert str(run_copy / "kan") in r.output.replace("\n", "") and ".partial" not in r.output
    assert _snapshot(run_copy) == before and [p.name for p in run_copy.parent.iterdir()] == [run_copy.name]


# --------------------------------------------------------------------------- the process: streams, paths, bounds

def _kansym(*args, **kw):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "kansym", *args], capture_output=True, text=True, timeout=60, **kw)


def test_full_or_closed_stdout_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    for args in (["data", "--json"], ["data"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, "-m", "kansym", *args], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = subprocess.run([sys.executable, "-m", "kansym", "data", "--json"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=60, close_fds=True,
                       preexec_fn=lambda: __import__("os").close(1))
    assert r.returncode == 2 and "standard output is closed" in r.stderr and "Traceback" not in r.stderr


def test_native_writes_to_stdout_do_not_reach_the_results():
    """What LAPACK does (a write to file descriptor 1 from compiled code) lands on stderr once the CLI has
    routed its streams; the results alone reach stdout."""
    import subprocess
    import sys

    code = ("import os, json, sys\nfrom kansym.cli.streams import route_native_stdout\nroute_native_stdout()\n"
            "os.write(1, b' ** On entry to DLASCL parameter number  4 had an illegal value\\n')\n"
            "print(json.dumps({'ok': 1}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(r.stdout) == {"ok": 1} and "DLASCL" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["show", "x" * 300], "File name too long|no run"),
    (["runs", "--runs-dir", "/tmp/" + "y" * 300], "File name too long|no runs"),
    (["table1", "--out-dir", "/dev/null/x"], "cannot be created"),
    (["discover", "--runs-dir", "/dev/null/x"], "cannot be created"),
])
def test_unusable_paths_are_one_line(args, message):
    import re

    r = _kansym(*args)
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr + r.stdout
    assert re.search(message, r.stderr + r.stdout), r.stderr + r.stdout
    if r.returncode == 2:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_symlink_loop_as_runs_dir_or_run(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for args in (["show", str(tmp_path / "a")], ["export", str(tmp_path / "a"), "--name", "x"],
                 ["discover", "--runs-dir", str(tmp_path / "a")]):
        r = _kansym(*args, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("args, message", [
    (["--chains", "²"], "ASCII digits"),
    (["--chains", "٥٠"], "ASCII digits"),
    (["--isotones", "٥٠"], "neutron number"),
    (["--beyond", "1000000000"], "1 .. 100"),
])
def test_extrapolate_bounds_and_digits(args, message, formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    t0 = time.perf_counter()
    r = runner.invoke(app, ["extrapolate", str(run), *args])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("args", [
    ["discover", "--steps", "nan"], ["data", "--subset", "bogus"], ["nosuch"], ["data", "--min-z"],
    ["data", "--max-unc", "٠.١"], ["table1", "--seeds", "100000000"], ["discover", "--max-constants", "100000"],
])
def test_bad_options_are_one_line_and_exit_2(args):
    r = _kansym(*args)
    assert r.returncode == 2 and r.stderr.startswith("Error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_runs_dir_that_is_not_a_directory_and_empty_registry(tmp_path, formula_run):
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    for where in ("fifo", "file"):
        for cmd in ("runs", "clean"):
            r = runner.invoke(app, [cmd, "--runs-dir", str(tmp_path / where)])
            assert r.exit_code == 2 and "not a directory" in r.output, r.output
    r = runner.invoke(app, ["export", str(formula_run.run_dir), "--name", "x", "--registry", ""])
    assert r.exit_code == 2 and "--registry" in r.output
    r = runner.invoke(app, ["extrapolate", str(formula_run.run_dir), "--chains", ",".join(map(str, range(1, 5001)))])
    assert r.exit_code == 2 and "at most" in r.output, r.output


def test_long_integers_in_run_files_are_a_message(formula_run, tmp_path):
    """Integers under Python's digit limit but beyond any float (4000 digits) in metrics.json or formula.json."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    text = (run / "metrics.json").read_text()
    (run / "metrics.json").write_text(text.replace('"rmse_mev": {', '"rmse_mev": {"huge": ' + "9" * 4000 + ", ", 1))
    for args in (["show", str(run)], ["runs", "--runs-dir", str(tmp_path)]):
        r = runner.invoke(app, args)
        assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit), r.output
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "digits" in r.output


def test_text_from_run_files_is_printed_as_written(formula_run, tmp_path):
    """Rich markup and terminal escapes in a run's files reach the terminal as text; the formula shown is the
    one in 'srepr', not a 'text' field that says otherwise."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    from rich.console import Console

    from kansym.cli.commands import render_summary

    evil = "[bold red]EVIL[/] \x1b]0;title\x07 \x1b[31m"
    entry = json.loads((run / "formula.json").read_text())
    (run / "formula.json").write_text(json.dumps({**entry, "text": "B = 42*FAKE"}))
    r = runner.invoke(app, ["show", str(run)])  # a text field that says otherwise is refused, not printed
    assert r.exit_code == 2 and "'text' is not the formula" in r.output and "FAKE" not in r.output, r.output
    (run / "formula.json").write_text(json.dumps(entry))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["pruned_width"] = evil  # printed as text in the summary: show refuses it (not the networks' width),
    (run / "metrics.json").write_text(json.dumps(metrics))  # and the table would print it as written
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "pruned_width" in r.output and "\x1b" not in r.output, r.output
    console = Console(record=True, width=300, color_system=None)
    console.print(render_summary(json.loads((run / "config.json").read_text()), metrics, None, run))
    text = console.export_text()
    assert "[bold red]EVIL[/]" in text.replace("\n", "") and "\x1b" not in text
    config = json.loads((run / "config.json").read_text())
    config["split"] = evil  # an option kansym would not accept: refused, and the message shows it as text
    (run / "config.json").write_text(json.dumps(config))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "unknown split" in r.output and "\x1b" not in r.output and "\x07" not in r.output


@pytest.mark.parametrize("rows, message", [
    ('3,0.5,"٣*Z"', "unexpected character"),
    ('3,0.5,"３*Z"', "unexpected character"),
    ('-3,0.5,"Z"', "Complexity"),
    ('٣,0.5,"Z"', "Complexity"),
    ('3,nan,"Z"', "Loss"),
    ("\n".join(f'{k + 1},0.5,"' + " + ".join(["Z*N/(N+1)"] * 60) + '"' for k in range(40)), "characters"),
])
def test_hall_of_fame_fields_checked(rows, message, tmp_path):
    from kansym.checks.crosscheck import import_hof

    f = tmp_path / "hof.csv"
    f.write_text("Complexity,Loss,Equation\n" + rows + "\n")
    t0 = time.perf_counter()
    with pytest.raises(KansymError, match=message):
        import_hof(f, ("Z", "N"))
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("args", [["--split", ""], ["--width", ""], ["--width", "5,,3"], ["--refine", "5,x"]])
def test_empty_or_malformed_discover_texts_are_refused(args, tmp_path):
    r = runner.invoke(app, ["discover", "--runs-dir", str(tmp_path / "runs"), *args])
    assert r.exit_code == 2 and r.output.startswith("Error:") and not (tmp_path / "runs").exists(), r.output


@pytest.mark.parametrize("args, message", [
    (["sweep", "--grid", "runs-dir=/tmp/x"], "unknown sweep option"),
    (["sweep", "--grid", "seed=0", "--grid", "seed=1"], "more than once"),
    (["discover", "--max-hidden", "-1"], "--max-hidden"),
    (["discover", "--lib", "x^(٣/٢)"], "ASCII"),
    (["discover", "--stage", "kan", "--chains", "Xx"], "unknown element"),
])
def test_options_the_probe_found_accepted(args, message, tmp_path):
    r = runner.invoke(app, [*args, "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and message in r.output and not (tmp_path / "runs").exists(), r.output


def test_export_force_onto_a_directory_writes_nothing(formula_run, tmp_path):
    from kansym.pipeline.registry import export_formula

    reg = tmp_path / "reg"
    (reg / "x.tex").mkdir(parents=True)
    with pytest.raises(KansymError, match="not a regular file"):
        export_formula(formula_run.run_dir, "x", reg, force=True)
    assert sorted(p.name for p in reg.iterdir()) == ["x.tex"] and (reg / "x.tex").is_dir()


def test_parameter_named_underscore_is_refused(formula_run):
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    old = entry["parameters"][0]["name"]
    entry["parameters"][0]["name"] = "_"
    entry["srepr"] = entry["srepr"].replace(f"Symbol('{old}'", "Symbol('_'")
    with pytest.raises(KansymError, match="starting with a letter"):
        formula_from_entry(entry)


def test_importance_with_a_long_integer_is_a_message(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    lines = (run / "importance.csv").read_text().splitlines()
    head = lines[0].split(",")
    row = lines[1].split(",")
    row[head.index("importance")] = "9" * 4000
    (run / "importance.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "importance.csv is broken" in r.output, r.output


def test_version_on_a_full_stdout_and_ascii_terminal(formula_run):
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "kansym", "--version"], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    r = _kansym("show", str(formula_run.run_dir), env={**__import__("os").environ, "PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("args, message", [
    (["extrapolate", "RUN", "--against", "frdm12,frdm12"], "more than once"),
    (["extrapolate", "RUN", "--isotones", "82,,126"], "empty element"),
    (["crosscheck", "RUN", "--pysr-hof", "HOF", "--maxsize", "0"], "--maxsize"),
    (["crosscheck", "RUN", "--pysr-hof", "HOF", "--engine", "bogus"], "unknown engine"),
    (["table1", "--models", "ws4,ws4"], "more than once"),
    (["sweep", "--grid", "width=2;"], "empty value"),
    (["sweep", "--grid", "lamb=1e-3,,2e-3"], "empty value"),
    (["discover", "--stage", "kan", "--crosscheck", "none", "--crosscheck-generations", "0"], "generations"),
])
def test_second_probe_options(args, message, formula_run, tmp_path):
    hof = tmp_path / "hof.csv"
    hof.write_text('Complexity,Loss,Equation\n3,0.5,"Z"\n')
    args = [str(formula_run.run_dir) if a == "RUN" else str(hof) if a == "HOF" else a for a in args]
    extra = ["--runs-dir", str(tmp_path / "runs")] if args[0] in ("sweep", "discover") else \
        ["--out-dir", str(tmp_path / "t1")] if args[0] == "table1" else []
    r = runner.invoke(app, [*args, *extra])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("edit, message", [
    (lambda e: e.update(format="kansym-formula/2"), "format"),
    (lambda e: e.update(n_constants=3), "n_constants"),
    (lambda e: e.update(n_constants="10"), "n_constants"),
])
def test_entry_format_and_count_checked(edit, message, formula_run):
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    edit(entry)
    t0 = time.perf_counter()
    with pytest.raises(KansymError, match=message):
        formula_from_entry(entry)
    assert time.perf_counter() - t0 < 2


# --------------------------------------------------------------------------- recorded configs, provenance, listings

@pytest.mark.parametrize("field, value, message", [
    ("k", -1, "spline order"),
    ("lamb", "NaN", "--lamb nan must lie in [0, 1000]"),
    ("width", "2", "field 'width' must be a list of whole numbers"),
    ("grid", 2.5, "field 'grid' must be a whole number"),
    ("seed", "0", "field 'seed' must be a whole number"),
    ("prune", "yes", "field 'prune' must be true or false"),
    ("chains", "Zr", "field 'chains' must be a list of names"),
    ("target", 5, "field 'target' must be text"),
    ("ensemble", 0, "--ensemble must be >= 1"),
    ("data_sha256", [], "field 'data_sha256' must be an object"),
])
def test_every_recorded_option_is_checked_by_every_reader(field, value, message, formula_run, tmp_path):
    """show, show --json, export and the stage reruns read config.json through one schema: a value kansym
    would not accept from the command line is refused, naming the field, with nothing written."""
    run = tmp_path / "runs" / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    config = json.loads((run / "config.json").read_text())
    config[field] = value
    (run / "config.json").write_text(json.dumps(config))
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for args in (["show", str(run)], ["show", str(run), "--json"],
                 ["export", str(run), "--registry", str(tmp_path / "reg")], ["symbolic", str(run)]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and message in r.output and "config.json" in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not (tmp_path / "reg").exists()
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("edit, message", [
    (lambda e: e.update(target="me"), "field 'target'.*disagrees"),
    (lambda e: e["selection"].update(min_z="30"), r'field .selection\.min_z. \("30"\) disagrees with config\.json \(30\)'),
    (lambda e: e.update(seed=7), "field 'seed'.*disagrees"),
    (lambda e: e.update(kansym_version="0.2 \\input{x}"), r"says kansym '0\.2 .*' made it"),
    (lambda e: e.update(data_sha256={"mass.txt": "not a digest"}), "'data_sha256'"),
    (lambda e: e["metrics"]["rmse_mev"].update(test=0.05), "records RMSE test 0.05 MeV but its formula gives"),
    (lambda e: e.update(metrics=[1]), "'rmse_mev' must give"),
    (_param_edit(0, stderr=1e-7), "standard error of a_V"),
    (_param_edit(0, stderr=1e300), "standard error of a_V"),
    (lambda e: [e["correlations"][0].__setitem__(1, 0.0), e["correlations"][1].__setitem__(0, 0.0)],
     "records correlations|not a correlation matrix"),  # the matrix may stop being one
    (lambda e: e["metrics"].update(max_abs_correlation=0.1), "records max_abs_correlation"),
    (lambda e: e["metrics"].update(cv_rmse_mev=0.001), "records cv_rmse_mev"),
    (lambda e: e["metrics"].update(edge_validation_rmse_mev=0.001), "records edge_validation_rmse_mev"),
    (lambda e: e["metrics"]["bootstrap_stderr"].update(a_V=1e-9), "records bootstrap_stderr"),
    (lambda e: e["metrics"]["far_check"].update(passed=False), "records far_check"),
])
def test_export_records_only_what_it_can_check(edit, message, formula_run, tmp_path):
    """A registry entry's provenance comes from the run's checked config.json and its RMSE is recomputed from
    the formula on the run's data: an edited formula.json is refused and no file is written."""
    from kansym.pipeline.registry import export_formula

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    entry = json.loads((run / "formula.json").read_text())
    edit(entry)
    (run / "formula.json").write_text(json.dumps(entry))
    with pytest.raises(KansymError, match=message):
        export_formula(run, "edited", tmp_path / "reg")
    assert not (tmp_path / "reg").exists() or not any((tmp_path / "reg").iterdir())


def test_export_records_the_run_and_its_own_numbers(formula_run, tmp_path):
    """A genuine run exports; the entry's numbers are the run's, recomputed (not copied), and what cannot be
    recomputed from the run's files (the agreement with the network before the refit) is not recorded."""
    from kansym.pipeline.registry import export_formula

    js, _ = export_formula(formula_run.run_dir, "checked", tmp_path / "reg")
    entry = json.loads(js.read_text())
    config = json.loads((formula_run.run_dir / "config.json").read_text())
    assert entry["run_id"] == formula_run.run_dir.name and entry["seed"] == config["seed"]
    assert entry["selection"]["subset"] == config["subset"] and entry["features"] == config["features"]
    recorded = formula_run.metrics["formula"]
    for key in ("rmse_mev", "cv_rmse_mev", "edge_validation_rmse_mev", "n_constants"):
        assert entry["metrics"][key] == pytest.approx(recorded[key], rel=1e-6)
    assert entry["metrics"]["far_check"]["passed"] == recorded["far_check"]["passed"]
    assert "kan_agreement_mev" not in entry["metrics"]


def test_export_succeeds_whatever_stdout_is(formula_run, tmp_path):
    """The entry is the result; the confirmation is a status line on stderr, so a full stdout is no failure
    (and a failed export never leaves an entry behind)."""
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "kansym", "export", str(formula_run.run_dir), "--name", "full",
                            "--registry", str(tmp_path / "reg")], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    assert r.returncode == 0 and "wrote" in r.stderr, r.stderr
    assert sorted(p.name for p in (tmp_path / "reg").iterdir()) == ["full.json", "full.tex"]


@pytest.mark.parametrize("command", ["runs", "clean"])
@pytest.mark.parametrize("where, message", [
    ("", "needs a directory name"),
    ("   ", "needs a directory name"),
    ("/dev/null/x", "does not exist"),
    ("nowhere/at/all", "does not exist"),
    ("/dev/null", "is not a directory"),
])
def test_listing_a_runs_directory_that_is_not_one_is_an_error(command, where, message, tmp_path):
    r = _kansym(command, "--runs-dir", where, *(["--json"] if command == "runs" else []), cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == "" and not any(tmp_path.iterdir())


@pytest.mark.parametrize("text, message", [
    ('Complexity,Loss,Equation\n1,10.0,Z,5\n', "4 fields where the header has 3"),
    ('Complexity,Loss,Equation\n1,10.0\n', "2 fields where the header has 3"),
    ('Complexity,Loss,Equation,Loss\n1,10.0,Z,4\n', "names a column twice"),
    ('Complexity,,Loss,Equation\n1,,10.0,Z\n', "empty column name"),
    ('Complexity,Loss,Equation\n1,10.0,"Z +\nN"\n', "spans several lines"),
    ('Complexity,Loss,Equation\n1,1.0,Z+N\n1,10.0,Z\n', "complexity 1 appears twice"),
])
def test_hall_of_fame_layout_checked(text, message, tmp_path):
    from kansym.checks.crosscheck import import_hof

    f = tmp_path / "hof.csv"
    f.write_text(text)
    with pytest.raises(KansymError, match=message):
        import_hof(f, ("Z", "N"))


def test_hall_of_fame_rows_in_any_order_are_read_by_complexity(tmp_path):
    from kansym.checks.crosscheck import import_hof

    f = tmp_path / "hof.csv"
    f.write_text('Complexity,Loss,Equation\n5,0.5,"Z*N + Z"\n1,10.0,Z\n3,1.0,"Z + N"\n')
    r = import_hof(f, ("Z", "N"))
    assert [e.complexity for e in r.front] == [1, 3, 5] and [e.loss for e in r.front] == [10.0, 1.0, 0.5]


@pytest.mark.parametrize("edit", [
    lambda m: m["trend"].update(coef=[2 * c for c in m["trend"]["coef"]]),  # a plausible but different baseline
    lambda m: m["x_scaler"].update(center=[0.0] * len(m["x_scaler"]["center"])),
    lambda m: m["y_scaler"].update(scale=[3 * m["y_scaler"]["scale"][0]]),
])
def test_a_network_that_is_not_the_runs_is_refused(edit, run_copy):
    """A checkpoint edited into another valid network no longer gives the RMSE the run measured: reruns,
    extrapolation and from_run refuse it instead of publishing its predictions."""
    from kansym.estimator import KANSymbolicRegressor

    _json_edit(edit)(run_copy / "kan" / "scalers.json")
    before = _snapshot(run_copy)
    r = runner.invoke(app, ["extrapolate", str(run_copy), "--chains", "Zr", "--beyond", "2"])
    assert r.exit_code == 2 and "networks in kan/ give RMSE" in r.output, r.output
    with pytest.raises(KansymError, match="networks in kan/ give RMSE"):
        KANSymbolicRegressor.from_run(run_copy)
    assert _snapshot(run_copy) == before


def test_show_refuses_recorded_numbers_its_files_do_not_give(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["formula"]["rmse_mev"]["test"] = 0.001
    (run / "metrics.json").write_text(json.dumps(metrics))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "record different rmse_mev" in r.output, r.output
    metrics = json.loads((formula_run.run_dir / "metrics.json").read_text())
    metrics["rmse_mev"]["test"] = -5.0
    (run / "metrics.json").write_text(json.dumps(metrics))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "KAN RMSE is not the RMSE" in r.output, r.output
    (run / "metrics.json").write_text((formula_run.run_dir / "metrics.json").read_text())
    entry = json.loads((run / "formula.json").read_text())
    _param_edit(0, stderr=1e-7)(entry)
    (run / "formula.json").write_text(json.dumps(entry))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "standard error of a_V" in r.output, r.output
    (run / "formula.json").write_text((formula_run.run_dir / "formula.json").read_text())
    (run / "importance.csv").write_text("feature,importance,std\nZ,0.34\n")
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "not the run's features" in r.output, r.output


def test_control_characters_in_a_run_path_reach_neither_terminal_nor_latex(formula_run, tmp_path):
    from kansym.symbolic.latex import tex_escape

    run = tmp_path / "esc\x1b[31mred"
    shutil.copytree(formula_run.run_dir, run)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 0 and "\x1b" not in r.output, r.output
    assert tex_escape("run\x1b[31m\x07") == "run?[31m?"


@pytest.mark.parametrize("spec", ["random:", "kfold:", "random: 0.8", "random:\uff10.8"])
def test_split_with_nothing_or_spaces_after_the_colon_is_refused(spec):
    from kansym.nuclear.targets import parse_split

    with pytest.raises(KansymError, match="unknown split"):
        parse_split(spec)


def test_sweep_with_no_chains_skips_the_extrapolation():
    from kansym.pipeline.config import DiscoverConfig

    cfg = DiscoverConfig(chains=(), crosscheck="none").resolved(environment=False)
    assert cfg.extrapolate is False


def test_hall_of_fame_with_a_bom_and_repeated_names(tmp_path):
    from kansym.checks.crosscheck import import_hof

    f = tmp_path / "hof.csv"
    f.write_text("\ufeffComplexity,Loss,Equation\n1,10.0,Z\n")
    assert [e.complexity for e in import_hof(f, ("Z", "N")).front] == [1]
    with pytest.raises(KansymError, match="repeat a name"):
        import_hof(f, ("Z", "Z"))


def test_estimator_warns_where_its_prediction_is_not_finite(formula_run):
    from kansym.estimator import KANSymbolicRegressor

    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    with pytest.warns(RuntimeWarning, match="not finite on 1 of 2 rows"):
        pred = est.predict(np.array([[50.0, 70.0], [0.0, 0.0]]))  # A = 0: the Coulomb term's A^(-1/3)
    assert np.isfinite(pred[0]) and not np.isfinite(pred[1])
    with pytest.raises(ValueError, match="rescale the column"):  # absurd inputs are refused, not predicted as -inf
        est.predict(np.array([[50.0, 70.0], [1e300, 1e300]]))


def test_estimator_refuses_inputs_that_overflow_float64():
    """X or y of 1e300 would overflow the scaling and the least squares (LAPACK's chatter, a LinAlgError): refused."""
    from kansym.estimator import KANSymbolicRegressor

    X = np.column_stack([np.arange(40, 80), np.arange(50, 90)]).astype(float)
    with pytest.raises(ValueError, match="rescale the column"):
        KANSymbolicRegressor().fit(X * 1e300, X.sum(axis=1), feature_names=["Z", "N"])
    with pytest.raises(ValueError, match="rescale it"):
        KANSymbolicRegressor().fit(X, X.sum(axis=1) * 1e300, feature_names=["Z", "N"])
    for scale in (1e300, 1e-300):  # weights whose squares overflow or vanish
        with pytest.raises(ValueError, match="sample_weight must lie in"):
            KANSymbolicRegressor().fit(X, X.sum(axis=1), feature_names=["Z", "N"], sample_weight=np.full(len(X), scale))


# --------------------------------------------------------------------------- what show, export and from_run stand behind

def _edited_copy(formula_run, tmp_path, file, edit):
    run = tmp_path / formula_run.run_dir.name
    if not run.exists():
        shutil.copytree(formula_run.run_dir, run)
    if file.endswith(".json"):
        data = json.loads((run / file).read_text())
        edit(data)
        (run / file).write_text(json.dumps(data))
    else:
        (run / file).write_text(edit)
    return run


@pytest.mark.parametrize("file, edit, message", [
    ("formula.json", lambda d: d["metrics"]["bootstrap_stderr"].update(a_V=0.0670525), "records bootstrap_stderr"),
    ("metrics.json", lambda d: d["formula"].update(cv_rmse_mev=d["formula"]["cv_rmse_mev"] + 0.01), "record different cv_rmse_mev"),
    ("metrics.json", lambda d: d["formula"].update(kan_agreement_mev=0.0123), "record different kan_agreement_mev"),
    ("metrics.json", lambda d: d["formula"].update(n_eligible=7), "record different n_eligible"),
    ("metrics.json", lambda d: d["rmse_mev"].update(test=d["rmse_mev"]["test"] + 0.01), "KAN RMSE is not the RMSE"),
    ("metrics.json", lambda d: d.update(n_nuclei=999), "counts 999 nuclei"),
    ("importance.csv", "feature,importance,std\nZ,0.3528,0\nN,0.6580,0\n", "not the importance of the networks"),
    ("importance.csv", "feature,importance,std\nZ,-0.3,0\nN,1.3,0\n", "not the importance of the networks"),
    ("formula.json", lambda d: d.update(kansym_version="0.0.1"), "says kansym '0.0.1' made it"),
    ("config.json", lambda d: d.update(lib="physics"), "lib 'physics'"),
    ("config.json", lambda d: d.update(stage="kan"), "of a later stage"),
    ("config.json", lambda d: d.update(r2_min=0.123), "r2_min 0.123"),
])
def test_show_prints_only_numbers_it_can_check(file, edit, message, formula_run, tmp_path):
    run = _edited_copy(formula_run, tmp_path, file, edit)
    for args in (["show", str(run)], ["show", str(run), "--json"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_show_recomputes_every_candidates_far_verdict(formula_run, tmp_path):
    """A candidate that was not chosen still has its far-extrapolation verdict and departure recomputed."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    table = pd.read_csv(run / "candidates.csv")
    k = int(np.flatnonzero(((table["chosen"].astype(str) != "True") & np.isfinite(table["far_departure_mev"])).to_numpy())[-1])
    for column, value in (("far_departure_mev", float(table.loc[k, "far_departure_mev"]) * 1.5 + 1.0),
                          ("sane", not bool(table.loc[k, "sane"]))):
        edited = table.copy()
        edited.loc[k, column] = value
        edited.to_csv(run / "candidates.csv", index=False)
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 2 and f"row {k} " in r.output and "far-extrapolation verdict" in r.output, r.output


def test_show_refuses_settings_the_files_were_not_made_with(formula_run, tmp_path):
    """config.json's max_constants must give candidates.csv's verdicts; extrapolation.json must carry the run's id
    and, after `kansym extrapolate`, pass as written."""
    from kansym.pipeline.discovery import rerun_extrapolate

    table = pd.read_csv(formula_run.run_dir / "candidates.csv")
    n_formula = json.loads((formula_run.run_dir / "formula.json").read_text())["n_constants"]
    over = sorted(n for n in table["n_constants"] if n > n_formula)
    if over:  # a bound the chosen formula meets but some candidate does not: the verdicts would differ
        run = _edited_copy(formula_run, tmp_path, "config.json", lambda d: d.update(max_constants=over[0] - 1
                                                                                    if over[0] - 1 != d["max_constants"]
                                                                                    else over[-1] + 1))
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 2 and "max_constants" in r.output, r.output
        shutil.rmtree(run)
    run = tmp_path / "x" / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    rerun_extrapolate(run, ("Sn",), beyond=2)
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    data = json.loads((run / "extrapolation.json").read_text())
    (run / "extrapolation.json").write_text(json.dumps({**data, "run_id": "another-run"}))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "extrapolation.json's run_id 'another-run' is not formula.json's" in r.output, r.output
    (run / "extrapolation.json").write_text(json.dumps(data))
    config = json.loads((run / "config.json").read_text())
    edited = {k: v for k, v in config.items() if k != "extrapolation_options"}  # as if no stage had extrapolated
    (run / "config.json").write_text(json.dumps({**edited, "extrapolate": False}))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "extrapolation stage did not run" in r.output, r.output


@pytest.mark.parametrize("edit, message", [
    (lambda e: e["metrics"].update(baseline="ld"), "records baseline 'ld', not the run's"),
    (lambda e: e["metrics"].update(route="bogus"), "is not a route of kansym"),
    (lambda e: e["metrics"].update(candidate="\\input{/etc/passwd}\x1b[31m"), "is not a candidate name"),
    (lambda e: e["metrics"].update(rule="another rule"), "records rule"),
    (lambda e: e["data_sha256"].update({"mass16.txt": "0" * 64}), "other data files"),
    (lambda e: e["data_sha256"].update({"evil.txt": "1" * 64}), "other data files"),
])
def test_export_refuses_what_it_cannot_stand_behind(edit, message, formula_run, tmp_path):
    from kansym.pipeline.registry import export_formula

    run = _edited_copy(formula_run, tmp_path, "formula.json", edit)
    with pytest.raises(KansymError, match=message):
        export_formula(run, "e", tmp_path / "reg")
    assert not (tmp_path / "reg").exists() or not any((tmp_path / "reg").iterdir())


def test_registry_entries_leave_out_the_search_bookkeeping(formula_run, tmp_path):
    """A registry entry states no refit starting values and no member or structure counts: nothing it cannot
    recompute; it still reads back as a formula."""
    from kansym.pipeline.registry import export_formula
    from kansym.symbolic.formula import formula_from_entry

    js, _ = export_formula(formula_run.run_dir, "plain", tmp_path / "reg")
    entry = json.loads(js.read_text())
    assert all("init" not in p for p in entry["parameters"])
    assert not {"members", "n_members", "n_structures", "n_eligible", "kan_agreement_mev"} & set(entry["metrics"])
    assert formula_from_entry(entry).values().tolist() == [p["value"] for p in entry["parameters"]]


def test_from_run_checks_its_formula(formula_run, tmp_path):
    from kansym.estimator import KANSymbolicRegressor

    run = _edited_copy(formula_run, tmp_path, "formula.json", _param_edit(-1, value=lambda v: v * 1.001))
    with pytest.raises(KansymError, match="records RMSE"):
        KANSymbolicRegressor.from_run(run)


@pytest.mark.parametrize("kw, message", [
    (dict(lamb_l1=-1), r"lamb_l1 must be a number in \[0, 1000\]"),
    (dict(lamb=1e308), r"lamb must be a number in \[0, 1000\]"),  # probe 17
    (dict(lamb_entropy="1"), "lamb_entropy must be a finite number"),
    (dict(max_constants="abc"), "max_constants must be a whole number"),
    (dict(max_constants=None), "max_constants must be a whole number"),
    (dict(search_budget=True), "search_budget must be None or a number"),
    (dict(ensemble=2, uncertainty="yes"), "uncertainty must be None, True or False"),
    (dict(lamb_l1=True), "lamb_l1 must be a finite number"),
])
def test_estimator_arguments_checked_by_name(kw, message):
    from kansym.estimator import KANSymbolicRegressor

    X = np.column_stack([np.arange(40, 80), np.arange(50, 90)]).astype(float)
    with pytest.raises(ValueError, match=message):
        KANSymbolicRegressor(**kw).fit(X, X.sum(axis=1), feature_names=["Z", "N"])


def test_estimator_takes_numpy_scalars():
    from kansym.estimator import KANSymbolicRegressor

    cfg, _ = KANSymbolicRegressor(test_fraction=np.float32(0.2), grid=np.int64(3))._config(("Z", "N"))
    assert cfg.grid == 3


@pytest.mark.parametrize("call", [
    lambda: __import__("kansym.runs.migrate", fromlist=["x"]).config_record([]),
    lambda: __import__("kansym.runs.migrate", fromlist=["x"]).config_record({"detrend": "yes"}),
    lambda: __import__("kansym.runs.migrate", fromlist=["x"]).checkpoint_meta({}),
    lambda: __import__("kansym.runs.migrate", fromlist=["x"]).checkpoint_meta(
        {"schedule": {}, "trend": [[0, 0], 0], "n_features_in": 10 ** 9}),
])
def test_migration_refuses_what_is_not_an_old_record(call):
    t0 = time.perf_counter()
    with pytest.raises(ValueError):
        call()
    assert time.perf_counter() - t0 < 1


# --------------------------------------------------------------------------- show against the networks; estimator scalars

def _pop_cv(d):
    d["metrics"].pop("cv_rmse_mev")


@pytest.mark.parametrize("file, edit, message", [
    ("formula.json", _pop_cv, "record different fields of the formula"),
    ("metrics.json", lambda d: d.update(pruned_width=[2, 9, 1]), "pruned_width is not what the networks"),
    ("importance.csv", None, "importance.csv is not the importance of the networks"),
])
def test_show_checks_against_the_networks_and_both_formula_records(file, edit, message, formula_run, tmp_path):
    if edit is None:  # the importances swapped: still shares, but not the networks'
        imp = (formula_run.run_dir / "importance.csv").read_text().splitlines()
        z, n = imp[1].split(",", 1)[1], imp[2].split(",", 1)[1]
        edit = "\n".join([imp[0], imp[1].split(",")[0] + "," + n, imp[2].split(",")[0] + "," + z]) + "\n"
    run = _edited_copy(formula_run, tmp_path, file, edit)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_show_checks_extrapolation_and_labels_its_steps(formula_run, tmp_path):
    from kansym.pipeline.discovery import rerun_extrapolate

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    rerun_extrapolate(run, ("Sn",), beyond=2, against=("ws4", "frdm12"))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 0 and "mean chain RMS vs WS4 over 2 chain steps" in r.output.replace("\n", " "), r.output
    metrics = json.loads((run / "metrics.json").read_text())
    for p in metrics["far_extrapolation"].values():
        for d in p["deviation_mev"].values():
            d["rms_beyond"] = 0.0042
    (run / "metrics.json").write_text(json.dumps(metrics))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "far_extrapolation summary is not what the run's networks" in r.output, r.output
    report = json.loads((run / "extrapolation.json").read_text())  # both files edited alike: still refused
    for p, far in report["far"].items():
        for ref, d in far["deviation_mev"].items():
            d["rms_beyond"] = 0.0042
    (run / "extrapolation.json").write_text(json.dumps(report))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "extrapolation.json is not what the run's networks and formula give" in r.output
    config = json.loads((run / "config.json").read_text())
    config["extrapolation_options"]["beyond"] = 10 ** 9
    (run / "config.json").write_text(json.dumps(config))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--beyond" in r.output, r.output


def test_estimator_converts_numpy_integers():
    from kansym.estimator import KANSymbolicRegressor

    cfg, _ = KANSymbolicRegressor(random_state=np.int64(0), grid=np.int64(3), k=np.int64(3), width=np.int64(2),
                                  refine=(np.int64(5),), ensemble=np.int64(1))._config(("Z", "N"))
    assert all(type(v) is int for v in (cfg.seed, cfg.grid, cfg.k, cfg.ensemble, *cfg.width, *cfg.refine))


def test_registry_entry_names_the_version_that_recomputed_it(formula_run, tmp_path):
    import kansym
    from kansym.pipeline.registry import export_formula

    run = _edited_copy(formula_run, tmp_path, "formula.json", lambda e: e.update(kansym_version="0.1.0"))
    _edited_copy(formula_run, tmp_path, "config.json", lambda c: c.update(kansym_version="0.1.0"))  # a 0.1.0 run
    js, _ = export_formula(run, "v", tmp_path / "reg")
    assert json.loads(js.read_text())["kansym_version"] == kansym.__version__


def test_an_interrupt_that_breaks_a_library_is_reported_as_an_interrupt(tmp_path):
    """SIGTERM inside a lazy import leaves a half-initialised module (an AttributeError, not KeyboardInterrupt):
    still exit 130 and one line, never a traceback; an interrupted command without its own message gets one."""
    code = ("import sys\nfrom kansym.cli import commands as c, streams as s\n"
            "@c.app.command('boom')\ndef boom():\n    s.INTERRUPT['received'] = True\n"
            "    raise AttributeError(\"partially initialized module 'torch._dynamo' has no attribute 'utils'\")\n"
            "@c.app.command('stop')\ndef stop():\n    raise KeyboardInterrupt\n"
            "sys.argv = ['kansym', sys.argv[1]]\nc.main()\n")
    for command in ("boom", "stop"):
        r = subprocess.run([sys.executable, "-c", code, command], capture_output=True, text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 130 and len(lines) == 1 and lines[0].startswith("Interrupted"), (command, r.stderr)


def _checkpoint_dir(run):
    return next(p.parent for p in sorted((run / "kan").rglob("scalers.json")))


@pytest.mark.parametrize("damage", ["fifo cache", "huge grid", "huge width", "cache symlink", "grid range"])
def test_checkpoint_files_are_checked_before_pykan_reads_them(damage, formula_run, tmp_path):
    import os

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    ck = _checkpoint_dir(run)
    if damage == "fifo cache":
        (ck / "model_cache_data").unlink()
        os.mkfifo(ck / "model_cache_data")
    elif damage == "cache symlink":
        (ck / "coarse_cache_data").unlink()
        (ck / "coarse_cache_data").symlink_to("/dev/zero")
    else:
        text = (ck / "model_config.yml").read_text()
        text = text.replace("\ngrid: ", "\ngrid: 1000000000\nold_grid: ") if damage == "huge grid" else \
            text.replace("grid_range:\n- -1\n", "grid_range:\n- -1e308\n") if damage == "grid range" else \
            text.replace("width:\n- - ", "width:\n- - 100000\n  - 0\n- - ")
        assert text != (ck / "model_config.yml").read_text()
        (ck / "model_config.yml").write_text(text)
    t0 = time.perf_counter()
    r = runner.invoke(app, ["show", str(run)])
    said = {"cache symlink": "is a symbolic link; a run's files must be its own", "fifo cache": "not a regular file"}.get(
        damage, "cannot load the KAN checkpoint")  # a link or a FIFO anywhere in the run: refused before any reading
    assert r.exit_code == 2 and said in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and time.perf_counter() - t0 < 10


# --------------------------------------------------------------------------- sixth probe

def _config_edit(**fields):
    return lambda d: d.update(fields)


@pytest.mark.parametrize("file, edit, message", [
    ("config.json", _config_edit(steps=7), "config.json's schedule disagree with the networks"),
    ("config.json", _config_edit(trainer="pykan"), "schedule.trainer: pykan in config.json, fast in the checkpoint"),
    ("config.json", _config_edit(k=2), "disagree with the networks"),
    ("config.json", _config_edit(width=[7]), "disagree with the networks"),
    ("config.json", _config_edit(seed=5), "do not belong together"),  # another split: caught first
    ("config.json", _config_edit(data_sha256={"ame2020": "0" * 64}), "other data files"),
    ("metrics.json", lambda d: d["counts"].update(train=d["counts"]["train"] + 1), "counts are not the run's split"),
    ("metrics.json", _config_edit(wall_time_total_s=-5), "wall_time_total_s must be seconds"),
    ("metrics.json", _config_edit(wall_time_total_s=1e308), "wall_time_total_s must be seconds"),
    ("metrics.json", _config_edit(dropped_without_model=3), "dropped_without_model"),
    ("metrics.json", lambda d: d["notes"].setdefault("data", []).append("an added note"), "notes on the data"),
    ("config.json", _config_edit(max_constants=1), "max_constants 1"),
    ("formula.json", lambda d: d["parameters"][0].update(shorthand="1.0(1)"), "has shorthand '1.0(1)'"),
    ("formula.json", lambda d: d["parameters"][0].update(unit="keV"), "has unit 'keV'"),
])
def test_show_checks_config_and_counts_against_the_networks(file, edit, message, formula_run, tmp_path):
    run = _edited_copy(formula_run, tmp_path, file, edit)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_search_record_edited_in_both_formula_files_is_refused(formula_run, tmp_path):
    run = _edited_copy(formula_run, tmp_path, "formula.json", lambda d: d["metrics"].update(n_eligible=150))
    run = _edited_copy(formula_run, tmp_path, "metrics.json", lambda d: d["formula"].update(n_eligible=150))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "n_eligible is not candidates.csv's record" in r.output, r.output


@pytest.mark.parametrize("edit", ["flag", "extra column", "split"])
def test_show_checks_every_column_of_predictions(edit, formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    frame = pd.read_csv(run / "predictions.csv")
    if edit == "flag":
        frame["outside_training_range"] = True
    elif edit == "extra column":
        frame["prediction2"] = frame["prediction"]
    else:
        frame.loc[0, "split"] = "[red]x"
    frame.to_csv(run / "predictions.csv", index=False)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "predictions.csv" in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_run_files_that_are_links_or_missing_formula_are_named(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    (run / "formula.json").unlink()
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "formula.json is missing" in r.output, r.output
    shutil.rmtree(run)
    shutil.copytree(formula_run.run_dir, run)
    (tmp_path / "elsewhere.json").write_text((run / "config.json").read_text())
    (run / "config.json").unlink()
    (run / "config.json").symlink_to(tmp_path / "elsewhere.json")
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "config.json is a symbolic link" in r.output, r.output


def test_export_refuses_a_config_that_misdescribes_the_networks(formula_run, tmp_path):
    run = _edited_copy(formula_run, tmp_path, "config.json", _config_edit(trainer="pykan"))
    run = _edited_copy(formula_run, tmp_path, "formula.json", _config_edit(trainer="pykan"))
    r = runner.invoke(app, ["export", str(run), "--name", "t", "--registry", str(tmp_path / "reg"),
                            "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "disagree with the networks" in r.output, r.output
    assert not (tmp_path / "reg" / "t.json").exists()


def test_a_chain_named_twice_is_refused(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    r = runner.invoke(app, ["extrapolate", str(run), "--chains", "Zr,40"])
    assert r.exit_code == 2 and "named twice" in r.output, r.output


def test_hall_of_fame_loss_is_a_plain_decimal(tmp_path):
    from kansym.checks.crosscheck import import_hof

    f = tmp_path / "hof.csv"
    f.write_text('Complexity,Loss,Equation\n3,1_000,"Z + N"\n')
    with pytest.raises(KansymError, match="Loss"):
        import_hof(f, ("Z", "N"))


@pytest.mark.parametrize("kwargs, fit_kwargs, message", [
    (dict(refine=5), {}, "refine must be None or a non-empty tuple"),
    ({}, dict(feature_names=[1, 2]), "feature_names must be strings"),
])
def test_estimator_arguments_named(kwargs, fit_kwargs, message):
    from kansym.estimator import KANSymbolicRegressor

    X = np.column_stack([np.arange(40, 80, dtype=float), np.arange(50, 90, dtype=float)])
    with pytest.raises(ValueError, match=message):
        KANSymbolicRegressor(**kwargs).fit(X, X.sum(axis=1), **fit_kwargs)


def test_seventh_probe_cases(formula_run, tmp_path):
    from kansym.estimator import KANSymbolicRegressor
    from kansym.pipeline.sweep import parse_value

    assert parse_value("detrend", "false") is False and parse_value("uncertainty", "false") is False
    assert parse_value("search_budget", "5") == 5.0 and parse_value("max_constants", "10") == 10
    older = tmp_path / "older"  # a run of this version made to look as if written before candidates.json: refused
    shutil.copytree(formula_run.run_dir, older)
    (older / "candidates.json").unlink()
    with pytest.raises(KansymError, match="candidates.json is missing beside candidates.csv"):
        KANSymbolicRegressor.from_run(older)
    est = KANSymbolicRegressor.from_run(formula_run.run_dir)  # as an older run (calibration rule kansym-1) reads
    est.candidates_ = est.candidates_.drop(columns="formula")
    with pytest.raises(KansymError, match="only the chosen formula"):
        est.sympy(0)
    r = runner.invoke(app, ["discover", "--runs-dir", str(formula_run.run_dir / "inner")])
    assert r.exit_code == 2 and "lies inside the run" in r.output and not (formula_run.run_dir / "inner").exists()
    r = runner.invoke(app, ["export", str(formula_run.run_dir), "--name", "..", "--registry", str(tmp_path / "reg")])
    assert r.exit_code == 2 and "starting with a letter or digit" in r.output
    runs = tmp_path / "runs"
    (runs / ".partial-a\x1b[31mred-s").mkdir(parents=True)
    (tmp_path / "victim").mkdir()
    (runs / ".partial-link").symlink_to(tmp_path / "victim")
    r = runner.invoke(app, ["runs", "--partial", "--runs-dir", str(runs)])
    assert r.exit_code == 0 and "\x1b" not in r.output
    r = runner.invoke(app, ["clean", "--runs-dir", str(runs)])
    assert r.exit_code == 0 and "\x1b" not in r.output and not (runs / ".partial-link").is_symlink()
    assert (tmp_path / "victim").is_dir() and not any(runs.iterdir())


def test_show_checks_extrapolation_csv(formula_run, tmp_path):
    from kansym.pipeline.discovery import rerun_extrapolate

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    rerun_extrapolate(run, ("Sn",), beyond=2, against=("ws4", "frdm12"))
    frame = pd.read_csv(run / "extrapolation.csv")
    frame.loc[0, "BE_kan"] += 1.0
    frame.to_csv(run / "extrapolation.csv", index=False)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "extrapolation.csv's BE_kan column" in r.output, r.output


# --------------------------------------------------------------------------- eighth probe

def test_sweep_refuses_a_negative_max_unc_and_labels_none_points():
    from kansym.pipeline.sweep import parse_value, sweep_plot

    with pytest.raises(KansymError, match="max_unc"):
        parse_value("max_unc", "-1")
    assert parse_value("max_unc", "none") is None and parse_value("max_unc", "0.1") == 0.1
    table = pd.DataFrame({"max_unc": [None, 0.1], "formula.n_constants": [8, 9], "formula.rmse_mev.test": [0.8, 0.7],
                          "formula.far_rms_beyond_mev": [4.0, 5.0], "pareto": [True, True]})
    fig = sweep_plot(table, ["max_unc"])
    assert {t.get_text() for t in fig.axes[0].texts} == {"none", "0.1"}


def test_a_closed_pipe_on_table_output_is_one_line_and_exit_2():
    import os

    read, write = os.pipe()
    os.close(read)  # the reader has gone before anything is written: every write meets a broken pipe
    try:
        r = subprocess.run([sys.executable, "-m", "kansym", "data"], stdout=write, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    finally:
        os.close(write)
    assert r.returncode == 2 and "Broken pipe" in r.stderr and "Traceback" not in r.stderr


def test_from_run_and_show_refuse_what_show_refuses(formula_run, tmp_path):
    from kansym import KANSymbolicRegressor

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    config = json.loads((run / "config.json").read_text())
    config["data_sha256"] = {k: "0" * 64 for k in config["data_sha256"]}
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(KansymError, match="other data files"):
        KANSymbolicRegressor.from_run(run)
    shutil.rmtree(run)
    for field, value, message in (("selection", {"subset": "all"}, "disagrees with config.json"),
                                  ("latex", "\\input{/etc/passwd}", "'latex' is not the formula"),
                                  ("text", "1", "'text' is not the formula"),
                                  ("units", {"output": "keV"}, "units are not kansym's")):
        shutil.copytree(formula_run.run_dir, run)
        entry = json.loads((run / "formula.json").read_text())
        entry[field] = {**entry[field], **value} if isinstance(value, dict) else value
        (run / "formula.json").write_text(json.dumps(entry))
        r = runner.invoke(app, ["show", str(run), "--json"])
        assert r.exit_code == 2 and message in r.output, (field, r.output)
        shutil.rmtree(run)


@pytest.mark.parametrize("name", ["a__b", "x_", "__import__", "pi", "E"])
def test_estimator_refuses_feature_names_that_do_not_print_as_themselves(name):
    from kansym import KANSymbolicRegressor

    X = pd.DataFrame({name: np.arange(20.0), "b": np.arange(20.0) ** 2})
    with pytest.raises(ValueError, match="feature name"):
        KANSymbolicRegressor(steps=2).fit(X, np.arange(20.0))


def test_estimator_refuses_complex_inputs():
    from kansym import KANSymbolicRegressor

    with pytest.raises(ValueError, match="complex"):
        KANSymbolicRegressor(steps=2).fit(np.ones((20, 2)) * (1 + 1j), np.arange(20.0))


def test_show_refuses_a_target_other_than_config_and_a_count_that_is_not_whole(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    for edit, message in ((lambda m: m.update(target="me"), "target"),
                          (lambda m: m["counts"].update(test=float(m["counts"]["test"])), "counts")):
        shutil.copytree(formula_run.run_dir, run)
        metrics = json.loads((run / "metrics.json").read_text())
        edit(metrics)
        (run / "metrics.json").write_text(json.dumps(metrics))
        r = runner.invoke(app, ["show", str(run), "--json"])
        assert r.exit_code == 2 and message in r.output, r.output
        shutil.rmtree(run)


def test_show_json_gives_only_the_fields_kansym_writes(formula_run, tmp_path):
    """Fields of another origin in metrics.json or formula.json are not echoed as if kansym stood behind them:
    their names are listed, their values left out (one in config.json, which could be an option misspelt, is
    refused: test_fields_kansym_does_not_write_are_refused)."""
    run = tmp_path / "run"
    shutil.copytree(formula_run.run_dir, run)
    for name, key in (("metrics.json", "rmse_formula_mev"), ("formula.json", "note")):
        data = json.loads((run / name).read_text())
        data[key] = 0.123456789
        (run / name).write_text(json.dumps(data))
    r = runner.invoke(app, ["show", str(run), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert "rmse_formula_mev" not in out["metrics"] and "note" not in out["formula"]
    assert out["unrecognised_fields"] == {"metrics.json": ["rmse_formula_mev"], "formula.json": ["note"]}
    assert "0.123456789" not in r.output
    plain = json.loads(runner.invoke(app, ["show", str(formula_run.run_dir), "--json"]).output)
    assert "unrecognised_fields" not in plain and set(plain["metrics"]) == set(
        json.loads((formula_run.run_dir / "metrics.json").read_text()))


def test_export_refuses_a_run_that_show_refuses(formula_run, tmp_path):
    """An edited predictions.csv (a file the formula entry does not hold) makes show refuse the run: export too,
    and nothing is written."""
    from kansym.pipeline.registry import export_formula

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    lines = (run / "predictions.csv").read_text().splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    col = head.index("prediction")
    first[col] = repr(float(first[col]) + 1.0)
    (run / "predictions.csv").write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    with pytest.raises(KansymError, match="prediction"):
        export_formula(run, "edited", tmp_path / "reg")
    assert not (tmp_path / "reg").exists() or not any((tmp_path / "reg").iterdir())


@pytest.mark.parametrize("where", ["run", "figures", "runs"])
def test_other_outputs_never_go_into_a_run_or_the_runs_directory(where, formula_run, tmp_path):
    """export --registry and table1 --out-dir naming a run, a folder in it, or the runs directory: exit 2, one
    line, nothing written (table1 refuses before any training)."""
    runs = tmp_path / "runs"
    shutil.copytree(formula_run.run_dir, runs / formula_run.run_dir.name)
    run = runs / formula_run.run_dir.name
    target = {"run": run, "figures": run / "figures", "runs": runs}[where]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    r = CliRunner().invoke(app, ["export", str(run), "--name", "x", "--registry", str(target), "--runs-dir",
                                 str(runs)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert ("inside the run" if where != "runs" else "is the runs directory") in r.output
    if where == "runs":  # also when --runs-dir does not name it
        r = CliRunner().invoke(app, ["export", str(run), "--name", "x", "--registry", str(target)])
        assert r.exit_code == 2 and f"holds runs ({run.name}), and kansym keeps its other outputs out of folders " \
            "of runs" in " ".join(r.output.split()), r.output
    if where != "runs":
        r = CliRunner().invoke(app, ["table1", "--out-dir", str(target), "--models", "ws4"])
        assert r.exit_code == 2 and "inside the run" in r.output and "done:" not in r.output, r.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_json_object_with_a_repeated_key_is_refused(formula_run, tmp_path):
    """{"target": "be", ..., "target": "residual"}: which value counts depends on the reader; show refuses it."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    text = (run / "metrics.json").read_text()
    assert text.lstrip().startswith("{")
    (run / "metrics.json").write_text(text.replace("{", '{\n  "n_nuclei": 1,', 1))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "appears twice" in r.output and "n_nuclei" in r.output, r.output


@pytest.mark.parametrize("old, new, message", [
    ("device: cpu", "device: meta", "sets device to 'meta'"),
    ("auto_save: false", "auto_save: true", "sets auto_save"),
    ("grid_eps: 0.02", "grid_eps: 0.5", "sets grid_eps"),
    ("base_fun_name: silu", "base_fun_name: zero", "sets base_fun_name"),
    ("ckpt_path: model", "ckpt_path: /tmp/elsewhere", "sets ckpt_path"),
    ("state_id:", "unexpected: 1\nstate_id:", "a setting kansym does not write: 'unexpected'"),
    ("- - '0'", "- - 'not_a_function'", "symbolic function name"),
    ("affine_trainable: false", "affine_trainable: [&a [x, x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, "
     "*a, *a, *a], &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], &e [*d, "
     "*d, *d, *d, *d, *d, *d, *d, *d, *d], &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e], &g [*f, *f, *f, *f, *f, *f, "
     "*f, *f, *f, *f], &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g], &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]]",
     "no aliases"),  # 10^9 items from 600 bytes: refused at once, never expanded
])
def test_a_checkpoint_with_settings_kansym_never_writes_is_refused(old, new, message, formula_run, tmp_path):
    """pykan's network description with another device, checkpoints written on load, another base function or an
    unknown symbolic function: show, predict and from_run refuse the run with the setting named (exit 2)."""
    from kansym import KANSymbolicRegressor

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    cfg = run / "kan" / "model_config.yml"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1))
    for cmd in (["show", str(run)], ["predict", str(run), "--z", "50", "--n", "70"]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, (cmd, r.output)
    with pytest.raises(KansymError, match=message):
        KANSymbolicRegressor.from_run(run)


@pytest.mark.parametrize("edit", ["edges.csv", "coarse network"])
def test_edited_edge_fits_or_coarse_network_are_refused(edit, formula_run, tmp_path):
    """edges.csv must be the edge fits of the coarse network the symbolic stage read: a changed R^2 in edges.csv,
    or coarse weights scaled in kan/coarse_state, is refused by show."""
    import torch

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    if edit == "edges.csv":
        edges = pd.read_csv(run / "edges.csv")
        edges.loc[0, "r2"] = 0.999999
        edges.to_csv(run / "edges.csv", index=False)
    else:
        state = torch.load(run / "kan" / "coarse_state", weights_only=True)
        key = next(k for k in state if k.endswith("coef"))
        state[key] = state[key] * 1.5
        torch.save(state, run / "kan" / "coarse_state")
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and ("edges.csv" in r.output or "clamping bounds" in r.output), r.output


def _cc_edit(name):
    def wall(d):
        d["engine_wall_s"] = -1.0

    def flag(d):
        d["equivalence"]["numerical"] = not d["equivalence"]["numerical"]

    def kan_rmse(d):
        d["rows"][0]["rmse_mev"]["train"] *= 0.5

    def other_selected(d):
        sel = next(k for k, r in enumerate(d["rows"]) if k and r["selected"])
        d["rows"][sel]["rmse_mev"]["train"] = 1e6

    def engine_rmse(d):
        sel = next(k for k, r in enumerate(d["rows"]) if k and r["selected"])
        d["rows"][sel]["rmse_mev"]["train"] *= 0.999  # still the selected one: only the recomputation tells

    def rms_difference(d):
        d["equivalence"]["rms_difference_mev"] *= 1.5

    def legacy_injection(d):  # a report without tex_layout (an earlier version's) is refused as such
        del d["tex_layout"]
        d["rows"][1]["numeric_latex"] = "x$ \\immediate\\write18{touch pwned} \\input{/etc/passwd} $"
        sel = next(k for k, r in enumerate(d["rows"]) if k and r["selected"])
        d["rows"][sel]["rmse_mev"] = {"train": 0.5, "test": 0.5, "all": 0.5}  # probe 17: was accepted

    def seed(d):  # crosscheck.tex's caption follows: only config.json's record tells
        d["seed"] += 1

    def maxsize(d):
        d["maxsize"] = 20

    return {"wall": wall, "flag": flag, "kan_rmse": kan_rmse, "other_selected": other_selected,
            "engine_rmse": engine_rmse, "rms_difference": rms_difference, "legacy_injection": legacy_injection,
            "seed": seed, "maxsize": maxsize}[name]


@pytest.mark.parametrize("edit", ["wall", "flag", "kan_rmse", "other_selected", "engine_rmse", "rms_difference",
                                  "legacy_injection", "seed", "maxsize"])
def test_a_self_contradictory_crosscheck_record_is_refused(edit, formula_run, tmp_path):
    """crosscheck.json's kansym row is the run's formula, its selected engine row the one its own rows select,
    its equivalence flags follow from its numbers, its wall time is possible: an edit of any is refused by show."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    hof = tmp_path / "hof.csv"
    hof.write_text('Complexity,Loss,Equation\n3,9.0,"Z + N"\n5,4.0,"1.5*Z + 2.0*N"\n7,1.0,"1.5*Z + 2.0*N + 3.0"\n')
    r = runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    data = json.loads((run / "crosscheck.json").read_text())
    _cc_edit(edit)(data)
    (run / "crosscheck.json").write_text(json.dumps(data))
    if edit in ("engine_rmse", "legacy_injection", "seed", "maxsize"):  # the snippet and the summary edited to match
        from kansym.checks.crosscheck import crosscheck_tex
        from kansym.pipeline.discovery import crosscheck_summary

        if edit != "legacy_injection":
            (run / "crosscheck.tex").write_text(crosscheck_tex(data))
        metrics = json.loads((run / "metrics.json").read_text())
        metrics["crosscheck"] = json.loads(json.dumps(crosscheck_summary(data)))
        (run / "metrics.json").write_text(json.dumps(metrics))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "crosscheck" in r.output and "lacks a field" not in r.output, r.output


@pytest.mark.parametrize("name", ["formula.tex", "crosscheck.tex"])
def test_an_edited_latex_snippet_of_a_run_is_refused(name, formula_run, tmp_path):
    """formula.tex and crosscheck.tex are regenerated from the checked records and compared byte for byte."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    hof = tmp_path / "hof.csv"
    hof.write_text('Complexity,Loss,Equation\n3,9.0,"Z + N"\n5,4.0,"1.5*Z + 2.0*N"\n')
    assert runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)]).exit_code == 0
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    text = (run / name).read_text()
    (run / name).write_text(text.replace("\\end{", "\\input{/etc/passwd}\\end{", 1))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and name in r.output, r.output


def test_small_inputs_of_the_eleventh_probe(formula_run, tmp_path):
    """Process ids 0 and -1 (process groups) are never alive; a mass model named twice, from_run(None), an option
    both fixed and swept, and '1_0' MeV are refused with a message; a run name with a newline is listed on one
    line."""
    import kansym
    from kansym import KANSymbolicRegressor
    from kansym.safeio import pid_alive

    assert not pid_alive(0) and not pid_alive(-1)
    with pytest.raises(KansymError, match="twice"):
        kansym.nuclei("even-even", models=("ws4", "ws4"))
    with pytest.raises(KansymError, match="path of a run directory"):
        KANSymbolicRegressor.from_run(None)
    r = runner.invoke(app, ["sweep", "--grid", "seed=0:2", "--seed", "5", "--runs-dir", str(tmp_path / "s")])
    assert r.exit_code == 2 and "both fixed and a --grid" in r.output and not (tmp_path / "s").exists()
    r = runner.invoke(app, ["discover", "--max-unc", "1_0", "--runs-dir", str(tmp_path / "d")])
    assert r.exit_code == 2 and "--max-unc" in r.output
    r = runner.invoke(app, ["predict", str(formula_run.run_dir), "--to-drip-line", "--elements", ""])
    assert r.exit_code == 2 and "at least one element" in r.output
    runs = tmp_path / "runs"
    shutil.copytree(formula_run.run_dir, runs / "a\nb")
    r = runner.invoke(app, ["runs", "--runs-dir", str(runs)], terminal_width=300)
    assert r.exit_code == 0 and "a?b" in r.output and "a\nb" not in r.output, r.output


@pytest.mark.parametrize("column, value", [("constants", "a_V=1+-1"), ("min_significance", 1e6),
                                           ("max_abs_correlation", 0.001), ("n_members", 7)])
def test_edited_candidates_csv_columns_are_refused(column, value, formula_run, tmp_path):
    """A candidate's constants text, smallest significance, largest correlation and member count are what
    candidates.json's formula gives, for every row (the chosen or not)."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    table = pd.read_csv(run / "candidates.csv")
    row = len(table) - 1  # the last structure: not the chosen one in general
    table[column] = table[column].astype(object)
    table.loc[row, column] = value
    table.to_csv(run / "candidates.csv", index=False)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "candidates.csv" in r.output, r.output


@pytest.mark.parametrize("args", [["data", "--min-z", "3_0"], ["discover", "--min-n=1_0"], ["sweep", "--jobs", "1_0",
                                                                                          "--grid", "seed=0:1"]])
def test_numbers_with_digit_separators_are_refused(args, tmp_path):
    """Python reads '3_0' as 30; the console script refuses it for every numeric option (one line, exit 2)."""
    r = subprocess.run([sys.executable, "-m", "kansym", *args, *(["--runs-dir", str(tmp_path)] if args[0] != "data"
                                                                 else [])],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "plain digits" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not any(tmp_path.iterdir())


def test_a_run_without_test_nuclei_is_accepted_by_show_and_an_empty_held_out_set_refused(tmp_path):
    """--split none trains on every nucleus: its test RMSE is NaN, and show accepts the run as written (a NaN
    recorded in metrics.json equals the NaN recomputed). A split meant to hold nuclei out but leaving none is
    refused before any training."""
    from conftest import tiny_config
    from kansym.pipeline.discovery import discover

    r = discover(tiny_config(tmp_path, stage="symbolic", split="none", lib="poly", features="zn"))
    assert json.loads((r.run_dir / "metrics.json").read_text())["rmse_mev"]["test"] == "NaN"
    out = runner.invoke(app, ["show", str(r.run_dir)])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["discover", "--split", "new-in-ame2020", "--min-z", "90", "--runs-dir",
                              str(tmp_path / "r2"), "--stage", "kan"])
    assert out.exit_code == 2 and "leaves 0 of the" in out.output and not (tmp_path / "r2").exists(), out.output


def test_derived_inputs_must_be_those_of_their_nucleus(formula_run):
    """Inputs derived from (Z, N) must be those of the row's nucleus: v_N = 999 for N = 70 is refused instead of
    predicted (5e6 MeV before), and rows that are no nucleus (Z = 0, fractional Z) have no derived inputs; (Z, N)
    alone may be evaluated anywhere."""
    from kansym.estimator import KANSymbolicRegressor
    from kansym.nuclear.features import all_features, check_derived as _check_derived

    names = ("Z", "N", "v_Z", "v_N")
    good = all_features([50, 82], [70, 126])[list(names)].to_numpy()
    _check_derived(good, names)
    bad = good.copy()
    bad[1, 3] = 999.0
    with pytest.raises(ValueError, match="column v_N is 999 in row 1, but Z = 82, N = 126 give 0"):
        _check_derived(bad, names)
    for row in ([0.0, 70.0, 99.0, 12.0], [50.5, 70.0, 1.0, 1.0], [-1.0, 70.0, 9.0, 12.0]):  # no nucleus
        with pytest.raises(ValueError, match="are derived from a nucleus"):
            _check_derived(np.array([row]), names)
    _check_derived(np.array([[0.0, 0.0]]), ("Z", "N"))  # (Z, N) alone: evaluated anywhere
    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    assert np.isfinite(est.predict(all_features([50], [70])[list(est.feature_names_in_)])).all()


@pytest.mark.parametrize("file, edit, message", [
    ("config.json", lambda c: c.update(evil_option=1), "holds 'evil_option', not a field kansym"),
    ("config.json", lambda c: c.update(crosscheck="pyoperon"), "holds no crosscheck.json"),
    ("extrapolation", lambda c: c["extrapolation_options"].update(evil=1), "extrapolation_options hold 'evil'"),
    ("kan/scalers.json", lambda m: m.update(note="x"), "holds 'note', not a field kansym writes"),
])
def test_fields_kansym_does_not_write_are_refused(file, edit, message, formula_run, tmp_path):
    """A field kansym never writes, or a setting naming a stage whose file is missing, is an edit: refused by
    show in one line, never ignored."""
    from kansym.pipeline.discovery import rerun_extrapolate

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    if file == "extrapolation":
        rerun_extrapolate(run, ("Sn",), beyond=2)
        file = "config.json"
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    data = json.loads((run / file).read_text())
    edit(data)
    (run / file).write_text(json.dumps(data))
    if "crosscheck.json" in message:  # the shared run may have been cross-checked by an earlier test
        (run / "crosscheck.json").unlink(missing_ok=True)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and message in r.output.replace("\n", " ") and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("out", ["table.csv/", "./", "sub/..", "."])
def test_predict_out_that_names_a_folder_is_refused(out, formula_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    r = runner.invoke(app, ["predict", str(formula_run.run_dir), "--z", "50", "--n", "70", "--out", out])
    assert r.exit_code == 2 and "must name a file, not a directory" in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"] and not any((tmp_path / "sub").iterdir())


def test_uncertainty_basis_of_a_run_without_held_out_nuclei():
    """With no nucleus held out (--split none) the calibration says it used all the run's nuclei."""
    import kansym
    from kansym.checks.masstable import Surface, calibrate

    d = kansym.nuclei("even-even", min_z=30, min_n=30, max_unc=None)
    noise = np.random.default_rng(0).normal(0, 0.5, len(d))
    surface = Surface("formula", d["Z"].to_numpy(), d["N"].to_numpy(), d["BE"].to_numpy() + noise)
    none_out = calibrate(surface, np.zeros(len(d), dtype=bool))
    assert none_out.basis.startswith("all the run's nuclei (the run holds none out") and "held-out" not in \
        none_out.basis, none_out.basis
    some_out = calibrate(surface, np.arange(len(d)) % 5 == 0)
    assert some_out.basis.startswith("the run's held-out (test) nuclei"), some_out.basis


def _csv_edit(edit):
    def apply(path):
        table = pd.read_csv(path)
        edit(table)
        table.to_csv(path, index=False)
    return apply


def _drop_last_failure(table):
    """The first row with failures loses its last one (the whole list when it has one: which rows have several
    depends on the search, and so on the machine's speed)."""
    k = table.index[table["failures"].notna()][0]
    kept = str(table.at[k, "failures"]).split(" | ")[:-1]
    table["failures"] = table["failures"].astype(object)
    table.at[k, "failures"] = " | ".join(kept) if kept else float("nan")


def _first_validated(table):
    return table.index[table["cv_rmse_mev"].notna()][0]



PROBE15_EDITS = {  # file -> edit, and what show says (probe 15: each was accepted)
    "chosen row's CV score": ("candidates.csv", _csv_edit(
        lambda t: t.__setitem__("cv_rmse_mev", t["cv_rmse_mev"].where(~t["chosen"], 0.5))), "validation scores"),
    "a validated row's edge score": ("candidates.csv", _csv_edit(
        lambda t: t.__setitem__("edge_rmse_mev", t["edge_rmse_mev"].where(t.index != _first_validated(t), 0.001))),
        "validation scores"),
    "a column added": ("candidates.csv", _csv_edit(lambda t: t.__setitem__("evil", 1)), "columns"),
    "members of another run": ("candidates.csv", _csv_edit(lambda t: t.__setitem__("members", "7")), "members"),
    "Pareto flags flipped": ("candidates.csv", _csv_edit(lambda t: t.__setitem__("pareto", ~t["pareto"])), "Pareto"),
    "weight floor without weights": ("config.json", _json_edit(lambda c: c.update(weight_floor=0.2)), "no effect"),
    "cross-check length without one": ("config.json", _json_edit(lambda c: c.update(crosscheck_generations=7)),
                                       "no effect"),
    "aggregate of one network": ("config.json", _json_edit(lambda c: c.update(aggregate="mean")), "aggregate"),
    "uncertainty of one network": ("config.json", _json_edit(lambda c: c.update(uncertainty=False)), "uncertainty"),
    "formula.tex deleted": ("formula.tex", lambda p: p.unlink(), "formula.tex is missing"),
    "notes.txt deleted": ("notes.txt", lambda p: p.unlink(), "notes.txt is missing"),
    "loss_curve.csv garbage": ("loss_curve.csv", lambda p: p.write_bytes(b"\x00\xff\x00"), "loss_curve.csv"),
    "loss_curve.csv deleted": ("loss_curve.csv", lambda p: p.unlink(), "loss_curve.csv is missing"),
    "importance.csv column added": ("importance.csv", _csv_edit(lambda t: t.__setitem__("evil", 1)), "columns"),
    "parameter row field added": ("formula.json", _json_edit(lambda e: e["parameters"][0].update(evil=1)),
                                  "parameter table"),
    "candidates.json field added": ("candidates.json", _json_edit(lambda e: e["candidates"][0].update(evil=1)),
                                    "not a field kansym writes"),
    "coarse clamping bound moved": ("kan/scalers.json", _json_edit(
        lambda m: m["coarse_bounds"][1][0].__setitem__(0, -5.0)), "clamping bounds"),
    "pykan YAML key given twice": ("kan/model_config.yml", lambda p: p.write_text("k: 5\n" + p.read_text()),
                                   "no key twice"),
    # probe 16
    "a validated row's score halved": ("candidates.csv", _csv_edit(
        lambda t: t.__setitem__("score_mev", t["score_mev"].where(t.index != _first_validated(t), 0.01))),
        "does not give the validation scores its formula has"),
    "a score on a row never validated": ("candidates.csv", _csv_edit(
        lambda t: t.__setitem__("score_mev", t["score_mev"].where(t["cv_rmse_mev"].notna(), 1.0))),
        "some validation scores and not others"),
    "an eligible row's scores cleared": ("candidates.csv", _csv_edit(lambda t: [
        t.__setitem__(c, t[c].where(~t["eligible"], np.nan))
        for c in ("cv_rmse_mev", "cv_spread_mev", "edge_rmse_mev", "score_mev")]), "none for an eligible"),
    "a loss-curve stage of another grid": ("loss_curve.csv", _csv_edit(
        lambda t: t.__setitem__("stage", t["stage"].where(t.index != 0, "sparsify g=99"))), "loss_curve.csv"),
    "a loss-curve test RMSE turned NaN": ("loss_curve.csv", _csv_edit(
        lambda t: t.__setitem__("test_rmse", t["test_rmse"].where(t.index != 0, np.nan))), "loss_curve.csv"),
    "importances edited everywhere (probe 17)": (".", lambda run: _set_importance(run), "importance"),
    "a note that is a number": (".", lambda run: _set_notes(run, lambda n: n.setdefault("symbolic", []).append(12345)),
                                "notes"),
    "a note of a stage kansym has not": (".", lambda run: _set_notes(run, lambda n: n.update({"zzz-stage": ["x"]})),
                                         "notes"),
    "a note forging a line": (".", lambda run: _set_notes(
        run, lambda n: n.setdefault("symbolic", []).append("x\nsymbolic: the formula is exact")), "notes"),
    "a note on the extrapolation added (probe 18)": (".", lambda run: _set_notes(run, lambda n: n.setdefault(
        "extrapolation", []).append("the formula failed the far check")), "notes"),
    "every loss-curve RMSE halved (probe 18)": ("loss_curve.csv", _csv_edit(lambda t: [
        t.__setitem__(c, t[c] / 2) for c in ("train_rmse", "test_rmse")]), "last training RMSE"),
    "a note on the data added": (".", lambda run: _set_notes(run, lambda n: n.setdefault("data", []).append("x")),
                                 "notes on the data"),
    "formula.json's notation unknown": ("formula.json", _json_edit(lambda e: e.update(notation="evil/9")),
                                        "notation"),
    "the chosen row given a failure (probe 17)": ("candidates.csv", _csv_edit(lambda t: t.__setitem__(
        "failures", t["failures"].where(t["chosen"] != True, "not validated: its training RMSE exceeds the best "  # noqa: E712
                                        "validation score by more than 30%"))), "failures"),
    "an eligible row given a screening failure": ("candidates.csv", _csv_edit(lambda t: t.__setitem__(
        "failures", t["failures"].where(~t["eligible"], "constants not determined: c_1 undetermined"))), "failures"),
    "a failure removed from a list": ("candidates.csv", _csv_edit(_drop_last_failure), "candidates.csv"),
    "a budget note without rows it left": (".", lambda run: _set_notes(run, lambda n: n.setdefault(
        "symbolic", []).append(__import__("kansym.symbolic.search").symbolic.search.validation_budget_note(2))),
        "notes do not say so"),
    "a far failure added to a sane row": ("candidates.csv", _csv_edit(lambda t: t.__setitem__(
        "failures", t["failures"].where(~(t["sane"] & ~t["eligible"]), t["failures"].fillna("").astype(str)
                                        + " | fails the far-extrapolation check"))), "failures"),
}


def _set_notes(run, edit) -> None:
    """metrics.json's notes edited and notes.txt written to match (consistent files)."""
    from kansym.pipeline.writer import notes_text

    metrics = json.loads((run / "metrics.json").read_text())
    notes = metrics.setdefault("notes", {})
    edit(notes)
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "notes.txt").write_text("".join(f"{st}: {n}\n" for st, ns in notes.items() for n in ns)
                                   if any(not isinstance(n, str) for ns in notes.values() for n in ns)
                                   else notes_text(notes))


def _set_importance(run) -> None:
    """The importance of every checkpoint and importance.csv swapped between the inputs, together (consistent
    files)."""
    import pandas as pd

    values = list(pd.read_csv(run / "importance.csv")["importance"])[::-1]
    for path in run.glob("kan/**/scalers.json"):
        meta = json.loads(path.read_text())
        meta["importance"] = values
        path.write_text(json.dumps(meta))
    table = pd.read_csv(run / "importance.csv")
    table["importance"] = values
    if "std" in table:
        table["std"] = 0.0
    table.to_csv(run / "importance.csv", index=False)


@pytest.mark.parametrize("name", list(PROBE15_EDITS))
def test_edits_the_fifteenth_probe_found_accepted_are_refused(name, formula_run, tmp_path):
    """Run-file edits the fifteenth probe found accepted by show: each refused in one line, exit 2."""
    from conftest import uncrosschecked_copy

    file, edit, message = PROBE15_EDITS[name]
    run = uncrosschecked_copy(formula_run.run_dir, tmp_path)
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    edit(run / file)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and message in r.output.replace("\n", " ") and "Traceback" not in r.output, (name, r.output)


def _crosschecked_copy(formula_run, tmp_path):
    """A copy of the formula run cross-checked against a two-formula hall of fame, and the report."""
    from kansym.pipeline.discovery import crosscheck_run, crosscheck_summary

    run = tmp_path / "crosschecked" / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    hof = tmp_path / "hof.csv"
    hof.write_text("Complexity,Loss,Equation\n3,1.0,\"8.0 * Z + 8.0 * N\"\n7,0.5,\"8.5 * Z + 8.3 * N - 0.01 * square(N)\"\n")
    rep = crosscheck_run(run, pysr_hof=hof)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "crosscheck": crosscheck_summary(rep)}))
    return run, rep


def test_crosscheck_rows_are_recomputed(formula_run, tmp_path):
    """Every number of a cross-check report's rows that its formulas give (far check, departure beyond the data) and
    only a report's fields: edits of a row that is not the selected one, or an added field, are refused."""
    run, rep = _crosschecked_copy(formula_run, tmp_path)
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    other = next(k for k, r in enumerate(rep["rows"]) if k > 0 and not r["selected"] and r.get("refitted"))
    far = next(key for key in rep["rows"][other] if key.startswith("far_rms_vs_"))
    for edit, message in ((lambda r: r["rows"][other].update({far: 1.0}), "far check or extrapolation"),
                          (lambda r: r["rows"][other].update(far_failures=["evil"]), "far check or extrapolation"),
                          (lambda r: r["rows"][other].update(extrapolation_rms_vs_kan_mev=1.0), "extrapolation"),
                          (lambda r: r.update(n_extrapolation_nuclei=411), "extrapolation nuclei"),
                          (lambda r: r["rows"][other].update(evil=1), "not a field of a cross-check report"),
                          (lambda r: r["rows"][other].update(engine_complexity="99"), "engine formula")):
        data = json.loads(json.dumps(rep))
        edit(data)
        (run / "crosscheck.json").write_text(json.dumps(data))
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 2 and message in r.output.replace("\n", " "), r.output


@pytest.mark.parametrize("args, message", [
    (["--lib", "x^(1/3"], "unknown function"),
    (["--chains", "Og"], "no measured nuclei with Z = 118"),
    (["--max-hidden", "99999999999999999999"], "max-hidden"),
    (["--weight-floor", "0.2"], "no effect without --weights dme"),
    (["--crosscheck", "none", "--crosscheck-budget", "30"], "no effect with --crosscheck none"),
    (["--ensemble", "1", "--no-uncertainty"], "needs --ensemble 2"),
    (["--stage", "kan", "--crosscheck-generations", "5"], "no effect with --stage kan"),  # probe 16
    (["--stage", "symbolic", "--crosscheck", "pyoperon"], "no effect with --stage symbolic"),
    (["--ensemble", "1", "--aggregate", "mean", "--stage", "kan"], "no effect with one network"),  # probe 17
    (["--lib", "sqrt,x^(1/2)"], "gives sqrt twice"),
    (["--lib", "x^(1/1),x"], "gives x twice"),
    (["--lib", "x,,x^2"], "empty element"),
    (["--lib", "+"], "empty part"),
])
def test_discover_options_the_fifteenth_probe_found(args, message, tmp_path):
    """Refused before any training (the chain only after reading the data: still in seconds)."""
    t0 = time.perf_counter()
    r = runner.invoke(app, ["discover", "--target", "be", "--features", "zn", "--runs-dir", str(tmp_path / "runs"),
                            *args])
    assert r.exit_code == 2 and message in r.output.replace("\n", " ") and time.perf_counter() - t0 < 10, r.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("args, message", [
    (["extrapolate", "{run}", "--chains", "Og"], "no measured nuclei"),
    (["extrapolate", "{run}", "--beyond", "0"], "--beyond"),
    (["crosscheck", "{run}", "--maxsize", "-1"], "--maxsize"),
    (["symbolic", "{run}", "--r2-min", "1.5"], "--r2-min"),
    (["predict", "{run}", "--z", "50", "--n", "70", "--out", "/dev/full", "--force"], "not a regular file"),
    (["predict", "{run}", "--z", "50", "--n", "70", "--out", "/proc/kansym.csv"], "cannot hold new files"),
    (["predict", "{run}", "--z", "50", "--n", "70", "--out", "-"], "standard output"),  # probe 16 from here
    (["predict", "{run}", "--to-drip-line", "--elements", "Sn,50"], "twice"),
    (["extrapolate", "{run}", "--chains", "Sn", "--against", "frdm12,FRDM12"], "twice"),
    (["table1", "--models", "ws4,WS4", "--out-dir", "/tmp/kansym-table1-never-written"], "twice"),
    (["predict", "{run}", "--z", "50", "--n", "70", "--out", ""], "--out is empty"),  # probe 17
    (["show", ""], "run reference is empty"),
    (["symbolic", "{run}", "--lib", "+"], "empty part"),
])
def test_stage_options_are_checked_before_the_run(args, message, formula_run):
    """A bad option of a stage rerun or of predict is refused before the run's full check (seconds, not tens)."""
    t0 = time.perf_counter()
    r = runner.invoke(app, [a.format(run=formula_run.run_dir) for a in args])
    assert r.exit_code == 2 and message in r.output and time.perf_counter() - t0 < 5, (r.output, time.perf_counter() - t0)


def test_terminal_text_shows_format_characters_as_marks(tmp_path):
    """A right-to-left override or an escape in a path is shown as '?' (never sent to the terminal)."""
    from kansym.cli.commands import _cell, terminal_safe

    assert _cell("a\u202eb\x1b[31mc\nd") == "a?b?[31mc?d" and terminal_safe("x\u2066y") == "x?y"


def test_fitted_estimator_refuses_pickling_with_a_way_out():
    import copy
    import pickle

    from kansym import KANSymbolicRegressor

    est = KANSymbolicRegressor(steps=2, refine=(5,), width=(2,))
    assert pickle.loads(pickle.dumps(est)).get_params() == est.get_params()  # unfitted: as any estimator
    d = kansym_nuclei_ee()
    est.fit(d[["Z", "N"]], d["BE"].to_numpy())
    for copier in (pickle.dumps, copy.deepcopy):
        with pytest.raises(TypeError, match="from_run"):
            copier(est)


def kansym_nuclei_ee():
    import kansym

    return kansym.nuclei("even-even", min_z=30, min_n=30, max_unc=None)


def test_sweep_reads_switches_and_names_output_options(tmp_path):
    r = runner.invoke(app, ["sweep", "--grid", "seed=0", "--runs-dir", str(tmp_path), "--quiet"])
    assert r.exit_code == 2 and "output" in r.output and "not of a sweep point" in r.output.replace("\n", " "), r.output
    r = runner.invoke(app, ["sweep", "--grid", "3", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "--grid grid=3" in r.output.replace("\n", " "), r.output
    r = runner.invoke(app, ["sweep", "--target", "be", "--grid", "target=me", "--runs-dir", str(tmp_path)])  # probe 17
    assert r.exit_code == 2 and "one sweep per target" in r.output.replace("\n", " "), r.output
    from kansym.pipeline.sweep import parse_flag

    assert parse_flag("expand") == ("expand", True) and parse_flag("no_prune") == ("prune", False)
    assert parse_flag("steps") is None


@pytest.mark.parametrize("edit, message", [
    (lambda e: e.update(srepr="Add(Mul(Symbol('N', real=True), Symbol('c_1', real=True)), exp(Integer(100000)))"),
     "not a finite float"),
    (lambda e: e.update(srepr="Mul(Symbol('N', real=True, positive=True), Symbol('c_1', real=True))"),
     "only real"),
    (lambda e: e.update(srepr="Mul(Symbol('N', real=True), Symbol('c_1', real=True))",
                        parameters=[*e["parameters"], dict(e["parameters"][0], name="c_99")]),
     "do not occur"),
    (lambda e: e.update(srepr="Add(" + ", ".join(f"Mul(Symbol('N', real=True), Symbol('c_{i}', real=True))"  # probe 17
                                                 for i in range(1, 3001)) + ")",
                        parameters=[dict(e["parameters"][0], name=f"c_{i}") for i in range(1, 3001)]),
     "more than 120 parameters"),
    (lambda e: e.update(srepr="Add(Symbol('c_1', real=True), " + ", ".join(
        f"Mul(Integer({i}), Symbol('N', real=True))" for i in range(1, 3001)) + ")"), "5000 nodes"),
    (lambda e: e["parameters"][0].update(value=10 ** 400), "not a finite number"),
    (lambda e: e["parameters"][0].update(stderr=10 ** 400), "not a finite number"),
    (lambda e: e.update(correlations=[[10 ** 400]]), "infinite"),
    (lambda e: e.update(correlations=[[[1]]]), "not a number"),
])
def test_formula_entries_the_sixteenth_probe_found(edit, message):
    """A registry entry whose constant overflows, whose symbols carry other assumptions than real, or whose listed
    parameters are not in its formula is refused when read; so are (probe 17) thousands of parameters or terms and
    numbers too large for a float, at once (not after seconds of parsing)."""
    from kansym.symbolic.formula import formula_from_entry

    entry = json.loads((Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_zn.json").read_text())
    entry = {k: v for k, v in entry.items() if k not in ("correlations", "n_constants")}
    entry["parameters"] = [dict(entry["parameters"][0], name="c_1")]
    edit(entry)
    t0 = time.perf_counter()
    with pytest.raises(KansymError, match=message):
        formula_from_entry(entry)
    assert time.perf_counter() - t0 < 2


def test_a_renamed_run_exports_under_the_id_it_was_written_under(formula_run, tmp_path):
    """Probe 17: a run's folder renamed (here to an id claiming another target) still exports with the id its files
    record; an existing entry is refused before the run's full check."""
    run = tmp_path / "20991231T000000Z-me-odd-odd-deadbeef"
    shutil.copytree(formula_run.run_dir, run)
    reg = tmp_path / "reg"
    r = runner.invoke(app, ["export", str(run), "--registry", str(reg), "--name", "y"])
    assert r.exit_code == 0, r.output
    entry = json.loads((reg / "y.json").read_text())
    assert entry["run_id"] == formula_run.run_dir.name and "deadbeef" not in (reg / "y.tex").read_text()
    t0 = time.perf_counter()
    r = runner.invoke(app, ["export", str(run), "--registry", str(reg), "--name", "y"])
    assert r.exit_code == 2 and "already exists" in r.output and time.perf_counter() - t0 < 2, r.output


def test_nuclei_beyond_whole_numbers_are_named_as_given():
    """Probe 17: Z = 1e20 was reported as -9223372036854775808 (converted before the check)."""
    from kansym.pipeline.predict import nuclei_frame

    with pytest.raises(KansymError, match=r"got \[1e\+20\]"):
        nuclei_frame([1e20], [60])
    assert nuclei_frame([50.0], [60]).to_numpy().tolist() == [[50, 60]]


def test_api_inputs_the_eighteenth_probe_found(tmp_path):
    """Probe 18: models=None, a formula without correlations asked for a band, a correlation matrix that is not
    one, booleans/complex numbers/text as formula inputs, a constant y, one nucleus repeated, a missing run path."""
    import numpy as np
    import pandas as pd

    import kansym
    from kansym import KANSymbolicRegressor
    from kansym.runs.store import find_run
    from kansym.symbolic.formula import formula_from_entry

    assert len(kansym.nuclei(models=None)) == len(kansym.nuclei())
    with pytest.raises(KansymError, match="list of names"):
        kansym.nuclei(models=5)
    entry = json.loads((Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_zn.json").read_text())
    f = formula_from_entry(entry)
    for X in (np.array([[50 + 1j, 70]]), pd.DataFrame({"Z": [True], "N": [70]}), pd.DataFrame({"Z": ["50"], "N": [70]})):
        with pytest.raises(KansymError, match="real numbers"):
            f.predict(X)
    bare = formula_from_entry({k: v for k, v in entry.items() if k != "correlations"})
    with pytest.raises(KansymError, match="no correlations"):
        bare.eval_uncertainty(np.array([[50.0, 70.0]]))
    n = len(entry["parameters"])
    for corr, message in (([[1.0 if i == j else (0.99 if (i + j) % 2 else -0.99) for j in range(n)]
                            for i in range(n)], "positive semidefinite"),
                          (np.eye(n).tolist(), None)):
        corr[0][0] = corr[0][0] if message else 1.0000001
        with pytest.raises(KansymError, match=message or "diagonal"):
            formula_from_entry({**entry, "correlations": corr})
    ee = kansym.nuclei("even-even", min_z=30, min_n=30, max_unc=None)
    X = ee[["Z", "N"]]
    with pytest.raises(ValueError, match="constant"):
        KANSymbolicRegressor().fit(X, np.full(len(X), 5.0))
    with pytest.raises(ValueError, match="1 distinct rows"):
        KANSymbolicRegressor().fit(pd.concat([X.iloc[:1]] * 300), np.arange(300.0))
    with pytest.raises(KansymError, match="no run directory"):
        find_run(str(tmp_path / "gone"), tmp_path)


def test_run_files_the_nineteenth_probe_edited(formula_run, tmp_path):
    """Probe 19: a formula.json (and formula.tex) claiming another run id while the extrapolation carries the real
    one was exported under the fake id; a renamed run's rerun now keeps the id its files record. Edits of what only
    the search records (the training RMSE before the refit, the refit's starting values, its notes: an invented one
    or a poorly fitted edge's R^2) were shown as genuine."""
    from kansym.pipeline.discovery import rerun_extrapolate
    from kansym.pipeline.writer import notes_text

    src = formula_run.run_dir
    renamed = tmp_path / "my-run"
    shutil.copytree(src, renamed)
    rerun_extrapolate(renamed, ("Sn",), beyond=2)
    assert json.loads((renamed / "extrapolation.json").read_text())["run_id"] == src.name
    assert runner.invoke(app, ["show", str(renamed)]).exit_code == 0
    fake = "20190101T000000Z-be-even-even-0badc0de"
    for name in ("formula.json", "formula.tex"):
        (renamed / name).write_text((renamed / name).read_text().replace(src.name, fake))
    r = runner.invoke(app, ["show", str(renamed)])
    assert r.exit_code == 2 and f".json's run_id '{src.name}' is not formula.json's" in r.output, r.output

    def halve_before(d):
        d["rmse_before_refit_mev"]["train"] /= 2

    def add_note(note):
        def edit(d):
            d["notes"]["symbolic"] = [note, *d["notes"].get("symbolic", [])]
            return d
        return edit

    invented = "member seed 0: the formula was validated against FRDM2012 to 0.01 MeV"
    poor = ("member seed 0: edge (layer 0, input 0 -> node 0) is poorly fitted: best R^2 poly 0.5000 (x^2) < 0.9; "
            "candidates keep the best function or drop the edge (the '-zeroed' ones)")
    cases = {
        "before refit": ({"formula.json": lambda d: halve_before(d["metrics"]),
                          "metrics.json": lambda d: halve_before(d["formula"])}, "rmse_before_refit_mev"),
        "init": ({"formula.json": lambda d: d["parameters"][0].update(init=d["parameters"][0]["init"] + 1.0)},
                 "starting values of the refit"),
        "invented note": ({"metrics.json": add_note(invented)}, "is not one the formula search writes"),
        "poor edge": ({"metrics.json": add_note(poor)}, "is not what the member's network gives"),
    }
    genuine = json.loads((src / "metrics.json").read_text())["notes"].get("symbolic", [])
    seconds = round(0.7 * json.loads((src / "config.json").read_text())["search_budget"])  # one member's share
    if any("is poorly fitted" in n for n in genuine):  # a poorly fitted edge's note removed
        cases["poor note removed"] = ({"metrics.json": lambda d: d["notes"].update(symbolic=[
            n for n in genuine if "is poorly fitted" not in n])}, "do not say that edge")
        # probe 21: ... behind a forged note that the member's search was cut short after its first network
        cases["behind a budget note"] = ({"metrics.json": lambda d: d["notes"].update(symbolic=[
            f"member seed 0: the search budget ({seconds} s for this member) ran out; its search is incomplete",
            *(n for n in genuine if "is poorly fitted" not in n)])}, "do not say that edge")
    cases["a note twice"] = ({"metrics.json": lambda d: d["notes"].update(symbolic=[genuine[0], *genuine])},
                             "repeat a note or lack the choice rule's")
    cases["no choice rule"] = ({"metrics.json": lambda d: d["notes"].update(symbolic=[
        n for n in genuine if not n.startswith("choice rule: ")])}, "repeat a note or lack the choice rule's")
    cases["a producing member without candidates"] = ({"metrics.json": lambda d: d["notes"].update(symbolic=[
        "member seed 0: no candidate (no valid formula candidate: forged)", *genuine])}, "gave no candidate")
    for k, (edits, message) in enumerate(cases.values()):
        run = tmp_path / str(k) / src.name
        shutil.copytree(src, run)
        for name, edit in edits.items():
            data = json.loads((run / name).read_text())
            edit(data)
            (run / name).write_text(json.dumps(data))
            if name == "metrics.json":  # notes.txt says what metrics.json says
                (run / "notes.txt").write_text(notes_text(data["notes"]))
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 2 and message in r.output, (message, r.output)


def test_api_inputs_the_nineteenth_probe_found():
    """Probe 19: masked arrays were read as if unmasked; Formula.eval_uncertainty checked none of what predict
    checks; a missing pandas value raised a TypeError; a constant of 1e308 overflowed the LaTeX snippet."""
    from kansym.report import export
    from kansym.symbolic.formula import Formula, Parameter, variable_symbols

    entry = json.loads((Path(__file__).parents[1] / "formulas" / "be_even_even_zn.json").read_text())
    f = export.formula_from_entry(entry)
    X = np.array([[50.0, 70.0], [60.0, 80.0]])
    hidden = np.ma.masked_array(X, mask=[[0, 1], [0, 0]])
    for call in (f.predict, f.eval_uncertainty):
        with pytest.raises(KansymError, match="masked array with 1 masked entries"):
            call(hidden)
        for bad, message in ((X[0], "must have 2 columns"), (X.astype(complex), "complex"), (X > 55, "booleans")):
            with pytest.raises(KansymError, match=message):
                call(bad)
    assert np.array_equal(f.predict(np.ma.masked_array(X)), f.predict(X))  # a mask hiding nothing is no mask
    frame = pd.DataFrame(X, columns=list(f.variables)).astype({"Z": "Int64"})
    frame.loc[1, "Z"] = pd.NA
    with pytest.warns(RuntimeWarning, match="not finite on 1 of 2 rows"):
        pred = f.predict(frame)
    assert np.isnan(pred[1]) and np.isfinite(pred[0])  # missing: NaN, never 0
    import kansym

    with pytest.raises(KansymError, match="masked array"):
        kansym.KANSymbolicRegressor().fit(hidden, np.ma.masked_array([1.0, 2.0], mask=[0, 1]))
    Z, N = variable_symbols(("Z", "N"))
    c = sp.Symbol("c", real=True)
    for value in (1e308, -1e308):
        huge = Formula(c * Z + N, ("Z", "N"), (Parameter("c", value, 0.1, value),), ((1.0,),))
        tex = export.formula_tex(huge, "B", {})
        assert "e+308" in tex
        with pytest.warns(RuntimeWarning, match="not finite on 1 of 1 rows"):  # probe 20: inf without a word
            assert np.isinf(huge.predict(np.array([[50.0, 70.0]]))).all()
    assert export.shorthand(15.75, 0.0123) == "15.750(12)"  # the ordinary case unchanged


def test_refusals_the_nineteenth_probe_timed(formula_run, tmp_path):
    """Probe 19: refusals that came after the run's full check (14 s): an element without a measured nucleus for
    --to-drip-line, an entry name taken by a folder, a registry that is a loop of links, a run holding a named pipe;
    an empty --pysr-hof was named as '.'."""
    import os

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    reg = tmp_path / "reg"
    (reg / "d1.json").mkdir(parents=True)
    (reg / "a").symlink_to(reg / "b")
    (reg / "b").symlink_to(reg / "a")
    os.mkfifo(run / "figures" / "extra.png")
    busy = tmp_path / "busy" / formula_run.run_dir.name  # probe 21: an update in progress was named after 12.5 s
    shutil.copytree(formula_run.run_dir, busy)
    (busy.parent / f".partial-{busy.name}-u").mkdir()
    (busy.parent / f".partial-{busy.name}-u" / ".owner-pid").write_text(str(os.getpid()))
    cases = [(["predict", str(run), "--to-drip-line", "--elements", "Og"], "no measured nucleus of Z = 118 (Og)"),
             (["export", str(run), "--name", "d1", "--registry", str(reg), "--force"], "is not a regular file"),
             (["export", str(run), "--name", "c1", "--registry", str(reg / "a")], "loop of links"),
             (["extrapolate", str(run), "--chains", "Sn"], "is not a file or folder (a named pipe"),
             (["symbolic", str(run)], "is not a file or folder (a named pipe"),
             (["crosscheck", str(run), "--pysr-hof", ""], "--pysr-hof is empty"),
             (["extrapolate", str(busy), "--chains", "Sn"], "is being updated by another kansym process")]
    for args, message in cases:
        t0 = time.perf_counter()
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and message in r.output and time.perf_counter() - t0 < 5, (args, r.output)
    assert sorted(p.name for p in reg.iterdir()) == ["a", "b", "d1.json"]


def test_an_interrupted_sweep_names_its_points_interrupted(tmp_path):
    """Probe 19: after an interrupt the summary said 'being run by another kansym process' of workers that had
    ended, and their scratch folders stayed."""
    from kansym.pipeline.config import DiscoverConfig
    from kansym.pipeline.sweep import _settle, plan, scratch_dir, write_summary
    from kansym.runs.store import OWNER_FILE

    sw = plan(DiscoverConfig(target="be", runs_dir=str(tmp_path), features="zn", lib="poly"), {"seed": [0, 1]},
              tmp_path)
    sw.root.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    held = scratch_dir(sw.root, sw.points[0][0])
    held.mkdir()
    (held / OWNER_FILE).write_text(str(proc.pid))
    table = write_summary(sw, interrupted=_settle(sw, seconds=1.0))
    assert list(table["state"]) == ["missing", "missing"] and list(table["reason"]) == ["interrupted", "not run"]
    assert not held.exists()


def test_a_run_without_formula_says_why(tiny_run, tmp_path):
    """Probe 20: a --stage kan run was said to have no formula because no candidate qualified. Such a run has no
    notes of a formula search."""
    from kansym.pipeline.writer import notes_text

    r = runner.invoke(app, ["predict", str(tiny_run.run_dir), "--z", "50", "--n", "70", "--use", "formula"])
    assert r.exit_code == 2 and "its stage was kan" in r.output and "use --use kan" in r.output, r.output
    run = tmp_path / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.setdefault("notes", {})["symbolic"] = ["no extrapolation validation: the data have no isotopic chains "
                                                   "(Z and N) to cut"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "notes.txt").write_text(notes_text(metrics["notes"]))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "notes of a formula search, but the run holds none" in r.output, r.output


def test_a_renamed_network_run_keeps_its_new_name_through_copies(tmp_path):
    """Probes 21 and 22: a --stage kan run in a folder of the user's own name (here with a space and brackets), given
    a formula there (its id is that name), then copied elsewhere, was refused ("neither the run's folder name nor a
    run id kansym gives"). (A network on (Z, N): the symbolic stage of a two-input network is quick.)"""
    from conftest import tiny_config

    from kansym.pipeline.discovery import discover
    from kansym.runs.store import RunDir

    made = discover(tiny_config(tmp_path / "made", features="zn"))
    run = tmp_path / "K3 (copy)"
    shutil.copytree(made.run_dir, run)
    written = RunDir(run).written_id  # the folder's name, or the original id where a test gave the run a report
    r = runner.invoke(app, ["symbolic", str(run), "--lib", "poly"])
    assert r.exit_code == 0, r.output
    copy = tmp_path / "elsewhere" / "K3b"
    shutil.copytree(run, copy)
    r = runner.invoke(app, ["show", str(copy)])
    assert r.exit_code == 0, r.output
    assert json.loads((copy / "formula.json").read_text())["run_id"] == written


def test_slips_probe_22_left(formula_run, tmp_path):
    """Probes 21 and 22 left: predict_nuclei([50, 52], [70]) broadcast N = 70 to both; --chains with --stage kan was
    accepted without effect; a 2-D y of two columns was read as twice the values; a run folder's name was read as
    rich markup in the extrapolation table's title."""
    import kansym

    est = kansym.KANSymbolicRegressor.from_run(formula_run.run_dir)
    with pytest.raises(KansymError, match="same length"):
        est.predict_nuclei([50, 52], [70])
    assert len(est.predict_nuclei([50, 52], 70)) == 4  # a single number still goes with every Z (kan and formula)
    X = pd.DataFrame({"Z": [50.0, 52.0, 54.0], "N": [70.0, 72.0, 74.0]})
    with pytest.raises(ValueError, match=r"one target per row.*\(3, 2\)"):
        est.score(X, np.ones((3, 2)))
    assert np.isfinite(est.score(X, est.predict(X).reshape(-1, 1) + 0.1))  # one column is one target per row
    r = runner.invoke(app, ["discover", "--stage", "kan", "--chains", "Sn", "--runs-dir", str(tmp_path / "r")])
    assert r.exit_code == 2 and "--chains has no effect with --stage kan" in r.output and not (tmp_path / "r").exists()
    r = runner.invoke(app, ["discover", "--width", "2", "--max-hidden", "5", "--runs-dir", str(tmp_path / "r")])
    assert r.exit_code == 2 and "--max-hidden 5 has no effect with --width 2" in r.output  # probe 23
    assert not (tmp_path / "r").exists()
    run = tmp_path / "[bold]B"
    shutil.copytree(formula_run.run_dir, run)
    r = runner.invoke(app, ["extrapolate", str(run), "--chains", "Sn", "--beyond", "2"])
    assert r.exit_code == 0 and "extrapolation of [bold]B" in r.output, r.output


def test_composition_size_notes_are_recomputed(formula_run, tmp_path):
    """Probe 22 left: a forged note "N composition(s) have more than K constants ..." was accepted. Its sizes are
    recomputed from the member's network (each variant's edge fits and composition), and K is the search's limit."""
    from dataclasses import replace

    from kansym.pipeline.recipe import load_run_stage
    from kansym.pipeline.symbolic_notes import _sizes, _sizes_hold
    from kansym.pipeline.writer import notes_text

    cfg, stage = load_run_stage(formula_run.run_dir)
    ds_train = stage.dataset.X[stage.dataset.mask("train")]
    member, fits = stage.kept[0], {}
    sizes = _sizes(member, cfg, ds_train, fits)
    name, k = next(iter(sizes.items()))
    small = replace(cfg, max_constants=k - 7)  # a limit (max_constants + 6) just below the composition's size
    true = f"1 composition(s) have more than {k - 1} constants and were refitted only after pruning: {name} ({k})"
    assert _sizes_hold(true, member, small, ds_train, fits)
    for forged in (true.replace(f"({k})", f"({k + 1})"), true.replace(f"more than {k - 1}", f"more than {k - 2}"),
                   true.replace("1 composition(s)", "2 composition(s)"), true.replace(name, "nonesuch"),
                   f"2 composition(s) have more than {k - 1} constants and were refitted only after pruning: "
                   f"{name} ({k}); {name} ({k})"):
        assert not _sizes_hold(forged, member, small, ds_train, fits), forged
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["notes"]["symbolic"] = [f"member seed {member.seed}: 1 composition(s) have more than 16 constants and "
                                    "were refitted only after pruning: physics (99)", *metrics["notes"]["symbolic"]]
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "notes.txt").write_text(notes_text(metrics["notes"]))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "does not give the sizes of the compositions" in r.output, r.output


def test_latest_is_the_newest_run_not_the_last_name(tiny_run, tmp_path, monkeypatch):
    """Probe 21 left: a run folder of the user's own naming (here 'latest' and 'zz-old') sorted after kansym's
    time-stamped ids and was taken for the newest run; a folder named latest in the working directory shadowed the
    keyword."""
    import os

    from kansym.runs.store import find_run

    runs = tmp_path / "runs"
    newest = runs / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, newest)
    for name in ("zz-old", "latest"):
        shutil.copytree(tiny_run.run_dir, runs / name)
        for f in (runs / name).iterdir():  # a network-only run records no id: its config.json's time counts
            os.utime(f, (1.6e9, 1.6e9))
    assert find_run("latest", runs).path == newest
    monkeypatch.chdir(runs)
    assert find_run("latest", runs).path == newest and find_run("./latest", runs).path.name == "latest"


def test_what_the_twenty_third_probe_found(formula_run, tmp_path):
    """Probe 23: an entry listing its variables in another order was read by position from an array (silently wrong
    numbers); Formula.latex took any precision; `kansym runs` listed a run whose formula.json is broken as sound;
    a symbolic link for kan/ was followed; an error caused by an interrupt inside a library was reported as a
    broken run; an out-of-range --z was said not to be whole numbers."""
    from kansym.cli import streams
    from kansym.report import export

    entry = json.loads((Path(__file__).parents[1] / "formulas" / "be_even_even_znv.json").read_text())
    f = export.formula_from_entry(entry)
    X = np.array([[50.0, 70.0, 0.0, 12.0], [82.0, 126.0, 0.0, 0.0]])
    reordered = export.formula_from_entry({**entry, "variables": ["N", "Z", "v_N", "v_Z"]})
    with pytest.raises(KansymError, match="not the order of kansym's feature set"):
        reordered.predict(X)
    frame = pd.DataFrame(X, columns=["Z", "N", "v_Z", "v_N"])
    assert np.array_equal(reordered.predict(frame), f.predict(X))  # by name, the same numbers
    with pytest.raises(KansymError, match="a derived input must be the one of its nucleus"):
        f.predict(X[:, [1, 0, 2, 3]])  # Z and N swapped beside their distances to magic numbers
    for kw in ({"precision": 0}, {"precision": "3"}, {"precision": 10 ** 6}, {"symbolic": "no"}):
        with pytest.raises(KansymError, match="precision must be|symbolic must be"):
            f.latex(**kw)
    runs = tmp_path / "runs"
    for name in ("good", "broken", "linked"):
        shutil.copytree(formula_run.run_dir, runs / name)
    (runs / "broken" / "formula.json").write_text("")
    shutil.rmtree(runs / "linked" / "kan")
    (runs / "linked" / "kan").symlink_to(runs / "good" / "kan", target_is_directory=True)
    r = runner.invoke(app, ["runs", "--runs-dir", str(runs), "--json"])
    status = {row["run_id"]: row["status"] for row in json.loads(r.output)}
    assert status == {"broken": "corrupt", "good": "ok", "linked": "ok"}, r.output
    r = runner.invoke(app, ["runs", "--runs-dir", str(runs)])
    assert "as the runs' files record them" in r.output and "corrupt" in r.output
    r = runner.invoke(app, ["show", str(runs / "linked")])
    assert r.exit_code == 2 and "kan is a symbolic link" in r.output, r.output
    r = runner.invoke(app, ["predict", str(runs / "good"), "--z", "0:100000", "--n", "70"])
    assert r.exit_code == 2 and "must lie inside 1 .. " in r.output, r.output
    streams.INTERRUPT["received"] = True
    try:
        r = runner.invoke(app, ["show", str(runs / "broken")])
    finally:
        streams.INTERRUPT["received"] = False
    assert r.exit_code == 130 and "Error" not in r.output, r.output


def test_what_the_twenty_fourth_probe_found(formula_run, tmp_path):
    """Probe 24: a formula on the kan4/kan9/kan11 inputs N-Z and A^(2/3) was refused as a malformed entry (so such
    runs could never get a formula) and would have printed NmZ in LaTeX; float32 inputs failed the derived-input check
    by rounding; predict_nuclei paired pandas Series of different indexes by position; a hall of fame mixing x0 with
    feature names was read."""
    from kansym.checks.crosscheck import import_hof
    from kansym.nuclear.features import all_features
    from kansym.report import export
    from kansym.symbolic.formula import Formula, Parameter, formula_from_entry, variable_symbols
    import kansym

    names = ("N", "Z", "A", "N-Z", "A^(2/3)")
    N, Z, A, NmZ, A23 = variable_symbols(names)
    c = sp.symbols("c_1:4", real=True)
    F = Formula(c[0] * NmZ ** 2 / A + c[1] * A + c[2] * A23, names,
                tuple(Parameter(f"c_{i}", v, 0.1, v) for i, v in ((1, -23.0), (2, 15.5), (3, -17.0))),
                ((1.0, 0.1, 0.0), (0.1, 1.0, 0.0), (0.0, 0.0, 1.0)))
    G = formula_from_entry(F.to_dict())
    frame = all_features([50], [70])[list(names)]
    assert G.predict(frame)[0] == pytest.approx(-23 * 20 ** 2 / 120 + 15.5 * 120 - 17 * 120 ** (2 / 3))
    tex = export.formula_tex(G, "B", {})
    assert "(N - Z)^{2}" in tex and "{A^{2/3}}" in tex and "NmZ" not in tex and "A23" not in tex
    twice = F.to_dict()
    twice["parameters"][0]["name"] = "NmZ"  # a parameter named as the symbol of N-Z
    twice["srepr"] = twice["srepr"].replace("'c_1'", "'NmZ'")
    with pytest.raises(KansymError, match="named twice"):
        formula_from_entry(twice)
    entry = json.loads((Path(__file__).parents[1] / "formulas" / "be_even_even_znv.json").read_text())
    f = export.formula_from_entry(entry)
    X = all_features([50, 82], [70, 126])[list(f.variables)]
    assert np.allclose(f.predict(X.astype("float32")), f.predict(X), rtol=1e-6)
    est = kansym.KANSymbolicRegressor.from_run(formula_run.run_dir)
    with pytest.raises(KansymError, match="different indexes"):
        est.predict_nuclei(pd.Series([82, 50], index=[5, 3]), pd.Series([70, 126], index=[3, 5]))
    hof = tmp_path / "hof.csv"
    hof.write_text("Complexity,Loss,Equation\n5,1.0,N*2.0 + Z + x0\n")
    with pytest.raises(KansymError, match="mixes positional names"):
        import_hof(hof, ("Z", "N"))


def test_what_the_twenty_fifth_probe_found(formula_run, tmp_path):
    """Probe 25: crosscheck.tex printed five digits of constants rounded to four in binary (a_C = -0.6016143 as
    0.60162); export wrote 'ok1..json' for the name 'ok1.' and 'x.json.json' for 'x.json'."""
    from kansym.checks.crosscheck import rounded
    from kansym.symbolic.formula import variable_symbols

    Z, N = variable_symbols(("Z", "N"))
    e = rounded(sp.Float(-0.6016143371) * Z ** 2 + sp.Float(11.8883999) * N)
    assert sorted(abs(float(f)) for f in e.atoms(sp.Float)) == [0.6016, 11.89]  # decimal digits, held exactly
    hof = tmp_path / "hof.csv"
    hof.write_text('Complexity,Loss,Equation\n3,9.0,"Z + N"\n5,4.0,"1.5*Z + 2.0*N"\n')
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    assert runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)]).exit_code == 0
    report = json.loads((run / "crosscheck.json").read_text())
    for row in report["rows"]:  # every number a row shows is a 4-digit decimal, which 5 printed digits keep exact
        numbers = [float(f) for f in parse_srepr(row["numeric_srepr"], "row").atoms(sp.Float)]
        assert all(v == float(f"{v:.4g}") for v in numbers), row["numeric_srepr"]
    assert sum(len(parse_srepr(r["numeric_srepr"], "row").atoms(sp.Float)) for r in report["rows"]) > 3
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    for name in ("ok1.", "x.json", "y.TEX"):
        r = runner.invoke(app, ["export", str(run), "--name", name, "--registry", str(tmp_path / "reg")])
        assert r.exit_code == 2 and "formula name" in r.output and not (tmp_path / "reg").exists(), (name, r.output)


def test_what_the_twenty_sixth_probe_found(formula_run, tiny_run, tmp_path):
    """Probe 26: predict --out --force overwrote half of a registry entry; a network-only run loaded in the API was
    said to have had no qualifying candidate; the sweep table printed constant counts with decimals and None."""
    import kansym
    from kansym.cli.commands import _sweep_cell

    reg = tmp_path / "reg"
    assert runner.invoke(app, ["export", str(formula_run.run_dir), "--name", "e", "--registry", str(reg)]).exit_code == 0
    before = (reg / "e.json").read_bytes()
    r = runner.invoke(app, ["predict", str(formula_run.run_dir), "--z", "50", "--n", "70", "--out", str(reg / "e.json"),
                            "--force"])
    assert r.exit_code == 2 and "half of a formula registry entry" in r.output and (reg / "e.json").read_bytes() == before
    est = kansym.KANSymbolicRegressor.from_run(tiny_run.run_dir)
    with pytest.raises(KansymError, match="stage was kan"):
        est.latex()
    nuclei = est.network_.dataset.frame[list(est.feature_names_in_)].head(2)
    assert np.isfinite(est.predict(nuclei, use="kan")).all()  # the network itself still predicts
    assert [_sweep_cell("formula.n_constants", 10.0), _sweep_cell("formula.rmse_mev.test", None),
            _sweep_cell("formula.rmse_mev.test", float("nan"))] == ["10", "-", "-"]
    X = pd.DataFrame({"Z": [50.0], "N": [70.0]})
    with pytest.raises(ValueError, match="each once"):
        kansym.KANSymbolicRegressor().fit(pd.concat([X, X[["Z"]]], axis=1), [1.0])


def test_what_the_twenty_seventh_probe_found(formula_run, tmp_path):
    """Probe 27: --lib x^99 made a run no command could read; a symbolic link for figures/ let a rerun write and
    delete outside the run; crosscheck.tex called a formula failing the far check passing; ME below -9999.999999 MeV
    broke the fixed-width table's columns; --to-drip-line dropped --z given with --elements; messages."""
    import kansym
    from kansym.cli.commands import path_safe
    from kansym.nuclear.nuclides import z_label
    from kansym.pipeline.predict import parse_range
    from kansym.report.masstable import ame_text
    from kansym.symbolic.formula import Formula
    from kansym.symbolic.library import resolve_library

    with pytest.raises(KansymError, match="limited to"):
        resolve_library("x^99")
    r = runner.invoke(app, ["symbolic", str(formula_run.run_dir), "--lib", "x^(65)"])
    assert r.exit_code == 2 and "limited to +-64" in r.output, r.output
    run = tmp_path / "runs" / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    outside = tmp_path / "outside"
    (run / "figures").rename(outside)
    (run / "figures").symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    for args in (["crosscheck", str(run), "--engine", "pyoperon", "--generations", "2"], ["show", str(run)]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "figures is a symbolic link" in r.output, r.output
    assert sorted(p.name for p in outside.iterdir()) == before
    (run / "figures").unlink()
    outside.rename(run / "figures")
    hof = tmp_path / "hof.csv"  # linear in Z and N: every engine formula fails the far check
    hof.write_text('Complexity,Loss,Equation\n3,9.0,"Z + N"\n5,4.0,"1.5*Z + 2.0*N"\n')
    assert runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)]).exit_code == 0
    rows = json.loads((run / "crosscheck.json").read_text())["rows"][1:]
    tex = (run / "crosscheck.tex").read_text()
    assert rows and not any(r["far_passed"] for r in rows)
    assert "none passes the far-extrapolation check" in tex and tex.count("$^\\dagger$") == len(rows) + 1
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    cols = ["BE", "ME", "S_n", "S_2n", "S_p", "S_2p", "Q_alpha", "Q_beta_minus"]
    table = {"N": [10, 300], "Z": [8, 100], "A": [18, 400], "source": ["kan", "formula"],
             **{c: [1.5, -10497.838505] for c in cols}, **{c + "_sigma": [0.1, float("nan")] for c in cols}}
    head, small, large = ame_text(pd.DataFrame(table), ["h"]).splitlines()[2:]
    assert small.index("  kan") == large.index("  formula") == head.index("  source")  # every column in its place
    assert small.index("1.500000") + 8 == large.index("-10497.838505") + 13 == head.index("BE") + 2
    r = runner.invoke(app, ["predict", str(formula_run.run_dir), "--to-drip-line", "--z", "50", "--elements", "Pb"])
    assert r.exit_code == 2 and "not both" in r.output, r.output
    r = runner.invoke(app, ["extrapolate", str(formula_run.run_dir), "--isotones", "82,082"])
    assert r.exit_code == 2 and "(repeated)" in r.output and "by symbol" not in r.output, r.output
    assert z_label(200) == "Z = 200" and z_label(50) == "Z = 50 (Sn)"
    assert parse_range("0:40", "--n", 400, bottom=0) == (0, 40)
    assert path_safe("a\nb") == "a?b"
    est = kansym.KANSymbolicRegressor.from_run(formula_run.run_dir)
    with pytest.raises(ValueError, match=r"got shape \(2,\) \(one row of a table is X\[\[i\]\]"):
        est.predict(np.array([50.0, 70.0]))
    F = Formula.from_dict(json.loads((formula_run.run_dir / "formula.json").read_text()))
    X = pd.DataFrame({"Z": [50.0], "N": [70.0]})
    with pytest.raises(KansymError, match="names the column Z twice"):
        F.predict(pd.concat([X, X[["Z"]]], axis=1))
    with pytest.raises(KansymError, match=r"exponent 1e\+308 is beyond"):
        from kansym.symbolic.exprparse import parse_equation
        parse_equation("Z ^ 1e308", {"Z": sp.Symbol("Z"), "N": sp.Symbol("N")})


def test_what_the_twenty_eighth_probe_found(formula_run, tmp_path):
    """Probe 28: --baseline linear on a residual target became 'none' without a word; the estimator fitted on shell
    columns that are not those of their nucleus; a formula.json or candidates.json listing its variables in another
    order was accepted; predict named no nucleus with an impossible BE/A; discover drew nothing on a log until the end."""
    import kansym
    from kansym.checks.masstable import implausible
    from kansym.nuclear.features import all_features
    from kansym.pipeline.config import DiscoverConfig

    cfg = DiscoverConfig(target="residual", model="ws4", baseline="linear").resolved()
    assert cfg.baseline == "linear" and cfg.detrend
    assert DiscoverConfig(target="residual", model="ws4").resolved().baseline == "none"
    df = kansym.nuclei(subset="even-even", min_z=30, min_n=30, max_unc=None)
    X = all_features(df["Z"], df["N"])[["Z", "N", "s_Z", "s_N"]]
    X["s_Z"], X["s_N"] = X["s_N"].to_numpy(), X["s_Z"].to_numpy()
    with pytest.raises(KansymError, match="a derived input must be the one of its nucleus"):
        kansym.KANSymbolicRegressor(steps=1, refine=(5,)).fit(X, df["BE"])
    for name in ("formula.json", "candidates.json"):
        run = tmp_path / name / formula_run.run_dir.name
        shutil.copytree(formula_run.run_dir, run)
        data = json.loads((run / name).read_text())
        entry = data["candidates"][0] if name == "candidates.json" else data
        entry["variables"] = entry["variables"][::-1]
        (run / name).write_text(json.dumps(data))
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 2 and "variables are not" in r.output and "in this order" in r.output, r.output
    frame = pd.DataFrame({"Z": [50, 200], "N": [70, 400], "BE": [1020.0, 11438.5], "source": ["formula", "formula"]})
    (note,) = implausible(frame)
    assert "BE/A outside 3-9 MeV for 1 nuclei (Z = 200 N = 400)" in note and "Z = 50" not in note
    r = runner.invoke(app, ["discover", "--features", "zn", "--ensemble", "2", "--steps", "2", "--refine", "5",
                            "--width", "2", "--stage", "kan", "--runs-dir", str(tmp_path / "runs"), "--jobs", "1"])
    assert r.exit_code == 0 and re.search(r"done: member 1/2 \(1/2, \d+ s\)", r.output), r.output  # a line per step


def test_what_the_twenty_ninth_probe_found(tiny_run, tmp_path):
    """Probe 29 (about 250 inputs) found no failure; it noted a config.json without its seed read with the default
    seed, and a BE/A warning whose nuclei ran together."""
    from kansym.checks.masstable import implausible
    from kansym.pipeline.config import RECORD_REQUIRED

    config = json.loads((tiny_run.run_dir / "config.json").read_text())
    for key in RECORD_REQUIRED:
        run = tmp_path / key / tiny_run.run_dir.name
        shutil.copytree(tiny_run.run_dir, run)
        (run / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != key}))
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 2 and f"field '{key}' is missing" in r.output, (key, r.output)
    frame = pd.DataFrame({"Z": [150, 150], "N": [30, 32], "BE": [100.0, 100.0], "source": ["formula"] * 2})
    (note,) = implausible(frame)
    assert "(Z = 150 N = 30; Z = 150 N = 32)" in note, note


def test_what_the_thirtieth_probe_found(formula_run, tmp_path):
    """Probe 30: a registry entry edited in one field (its srepr, a value, an error) and not in the fields derived from
    it was read without a word; width=() became the default width; a symbolic link to no run was called missing; a
    malformed formula.json did not name its run. (A sweep point holding another point's run: tests/test_sweep.py.)"""
    import kansym
    from kansym import Formula

    entry = json.loads((Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_znst.json").read_text())
    Formula.from_dict(entry)  # as written, it agrees with itself
    edits = {"srepr": lambda e: e.update(srepr=e["srepr"].replace("Rational(2, 3)", "Rational(1, 3)", 1)),
             "value": lambda e: e["parameters"][0].update(value=16.0),
             "stderr": lambda e: e["parameters"][0].update(stderr=e["parameters"][0]["stderr"] * 10),
             "relative": lambda e: e["parameters"][1].update(relative_uncertainty=0.5)}
    for what, edit in edits.items():
        e = json.loads(json.dumps(entry))
        edit(e)
        with pytest.raises(KansymError, match="'text' is not the formula|has shorthand|relative_uncertainty"):
            Formula.from_dict(e)
    with pytest.raises(KansymError, match="non-empty tuple"):
        kansym.KANSymbolicRegressor(width=()).fit(pd.DataFrame({"Z": [50.0], "N": [70.0]}), [1000.0])
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    r = runner.invoke(app, ["show", str(link)])
    assert r.exit_code == 2 and "symbolic link to no directory" in r.output, r.output
    with pytest.raises(KansymError, match="symbolic link to no directory"):
        kansym.KANSymbolicRegressor.from_run(link)
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    data = json.loads((run / "formula.json").read_text())
    data["parameters"][0]["shorthand"] = "1.0(1)"
    (run / "formula.json").write_text(json.dumps(data))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and f"run {run.name}: formula.json: malformed formula entry" in " ".join(r.output.split())


def test_what_the_thirty_first_probe_found():
    """Probe 31: a registry entry with two constants' names swapped was read (predictions moved by 7000 MeV); an
    infinite input gave an infinite prediction; a SIGINT whose KeyboardInterrupt Python dropped (raised in a
    garbage-collector callback) let a sweep run on."""
    import kansym
    from kansym import Formula
    from kansym.cli import streams

    entry = json.loads((Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_znst.json").read_text())
    p = entry["parameters"]
    assert "with a_S" in p[0]["flag"]  # the entry flags a_V's correlation with a_S: a swap of their names shows there
    p[0]["name"], p[1]["name"] = p[1]["name"], p[0]["name"]
    with pytest.raises(KansymError, match=r"\(a_S\) has flag '\|corr\| > 0.99 with a_S'"):
        Formula.from_dict(entry)
    f = kansym.Formula.from_dict(json.loads(
        (Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_zn.json").read_text()))
    X = pd.DataFrame({"Z": [50.0, 50.0], "N": [70.0, np.inf]})
    with pytest.raises(KansymError, match="column N is inf in row 1: inputs must be finite"):
        f.predict(X)
    with pytest.warns(RuntimeWarning, match="not finite on 1 of 2 rows"):  # NaN stays a missing value
        assert np.isnan(f.predict(X.assign(N=[70.0, np.nan]))[1])
    step = streams.interruptible(None)
    step("done")  # no signal: nothing happens
    streams.INTERRUPT["received"] = True
    try:
        with pytest.raises(KeyboardInterrupt):
            step("done")
    finally:
        streams.INTERRUPT["received"] = False


def test_what_the_thirty_second_probe_found(tiny_run, tmp_path):
    """Probe 32 (about 430 inputs): a network-only run relabelled as a symbolic-stage run was accepted; an entry
    written with a 'format' but stripped of the fields it is checked by (flags, shorthands) was read as it stood.
    (An edited --weight-floor: tests/test_weights.py.)"""
    from kansym import Formula

    run = tmp_path / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "stage": "symbolic"}))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "says stage 'symbolic', but the run has no edges.csv" in r.output, r.output
    entry = json.loads((Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_znst.json").read_text())
    for p in entry["parameters"]:
        del p["flag"]
    with pytest.raises(KansymError, match=r"field 'parameters'\[0\]\['flag'\] is missing"):
        Formula.from_dict(entry)
    del entry["format"]  # a plain to_dict() record: taken at its word, as Formula.to_dict writes it
    f = Formula.from_dict(entry)
    assert f.n_constants == 12
    with pytest.raises(KansymError, match=r"values must give the 12 constants \(a_V, .*got shape \(3,\)"):
        f.evaluate(np.ones((2, 6)), values=np.ones(3))
    for threshold in ("0.5", float("nan"), 2.0):
        with pytest.raises(KansymError, match="threshold must be a number in"):
            f.degenerate_pairs(threshold)


def test_what_the_thirty_third_probe_found(tiny_run, formula_run, tmp_path):
    """Probe 33 (about 185 inputs): a run without importance.csv was shown without its importances (exit 0); a
    cross-check row whose refit failed could carry any RMSE; the estimator raised plain ValueErrors where the rest of
    the API raises KansymError."""
    from kansym import KANSymbolicRegressor
    from kansym.pipeline.registry import crosscheck_tex

    run = tmp_path / "kan" / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, run)
    (run / "importance.csv").unlink()
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "importance.csv is missing" in r.output, r.output

    run, rep = _crosschecked_copy(formula_run, tmp_path)
    other = next(k for k, row in enumerate(rep["rows"]) if k > 0 and not row["selected"] and row.get("refitted"))
    kept = ("formula", "engine", "engine_expression", "engine_complexity", "engine_loss_mev2", "selected")
    failed = {**{key: rep["rows"][other][key] for key in kept}, "n_constants": None, "size": None,
              "refit_failed": "the refit did not converge", "rmse_mev": {"train": "NaN", "test": "NaN", "all": "NaN"}}
    for row, code in ((failed, 0), ({**failed, "rmse_mev": {"train": 0.1, "test": 0.1, "all": 0.1}}, 2),
                      ({**failed, "n_constants": 3}, 2), ({**failed, "refit_failed": " "}, 2),
                      ({key: v for key, v in failed.items() if key != "refit_failed"}, 2)):
        data = json.loads(json.dumps(rep))
        data["rows"][other] = row
        (run / "crosscheck.json").write_text(json.dumps(data))
        (run / "crosscheck.tex").write_text(crosscheck_tex(json.loads(json.dumps(data))))
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == code, (row, r.output)
        assert code == 0 or f"row {other} has no refitted formula but is not a row whose refit failed" in \
            r.output.replace("\n", " "), r.output

    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    for X, message in ((pd.DataFrame({"Q": [1.0]}), "lacks the columns Z, N"), (np.ones((1, 2, 2)), "must be 2-D")):
        with pytest.raises(KansymError, match=message):
            est.predict(X)


def test_what_the_thirty_fourth_probe_found(tmp_path):
    """Probe 34 (about 120 inputs, weighted to interrupts): a SIGINT between the two renames of an export left a new
    NAME.json beside the old NAME.tex; a KeyboardInterrupt raised inside a finalizer was printed as a traceback and
    the command then exited 0; a burst of signals raised a second interrupt inside the first one's handling; a
    registry entry with another unit or notation was read."""
    from kansym import Formula

    code = ("import os, signal, sys\nfrom pathlib import Path\nfrom kansym.cli import streams\n"
            "from kansym.runs.store import write_files_together\n"
            "streams.terminate_as_interrupt()\nd, exclusive = Path(sys.argv[1]), sys.argv[2] == 'x'\n"
            "real_replace, real_link = os.replace, os.link\n"
            "def first_then_signal(real):\n"
            "    def move(a, b):\n"
            "        real(a, b)\n"
            "        if str(b).endswith('e.json'):\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "            sum(range(10000))\n"
            "    return move\n"
            "os.replace, os.link = first_then_signal(real_replace), first_then_signal(real_link)\n"
            "try:\n"
            "    write_files_together({d / 'e.json': 'new', d / 'e.tex': 'new'}, exclusive, FileExistsError())\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted')\n")
    for mode, after in (("r", ["new", "new"]), ("x", [None, None])):
        d = tmp_path / mode
        d.mkdir()
        if mode == "r":
            (d / "e.json").write_text("old")
            (d / "e.tex").write_text("old")
        r = subprocess.run([sys.executable, "-c", code, str(d), mode], capture_output=True, text=True, timeout=60)
        assert r.stdout.strip() == "interrupted" and not r.stderr, (mode, r.stdout, r.stderr)
        assert [(d / n).read_text() if (d / n).exists() else None for n in ("e.json", "e.tex")] == after, mode

    code = ("import os, signal, sys, time\nfrom kansym.cli import commands as c, streams as s\n"
            "class Dropped:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "        sum(range(10000))\n"
            "@c.app.command('finalizer')\ndef finalizer():\n"
            "    d = Dropped()\n    del d\n    print('finished')\n"
            "@c.app.command('burst')\ndef burst():\n"
            "    try:\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n        sum(range(10000))\n"
            "    except KeyboardInterrupt:\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n        sum(range(10000))\n"
            "        print('held')\n"
            "@c.app.command('again')\ndef again():\n"  # a second Ctrl-C after one that was dropped still interrupts
            "    d = Dropped()\n    del d\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n    sum(range(10000))\n    print('finished')\n"
            "sys.argv = ['kansym', sys.argv[1]]\nc.main()\n")
    for command, printed, said in (("finalizer", "finished", "Interrupted as the command ended"),
                                   ("burst", "held", "Interrupted as the command ended"),
                                   ("again", "", "Interrupted; each file is written whole or not at all")):
        r = subprocess.run([sys.executable, "-c", code, command], capture_output=True, text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 130 and r.stdout.strip() == printed, (command, r.returncode, r.stdout, r.stderr)
        assert len(lines) == 1 and lines[0].startswith(said), (command, r.stderr)

    # a signal that reaches a handler already put back, while the others are restored: each is still put back
    code = ("import signal\nfrom kansym.safeio import signals_deferred\n"
            "term, real, restoring = signal.getsignal(signal.SIGTERM), signal.signal, []\n"
            "def put_back(sig, handler):\n"
            "    old = real(sig, handler)\n"
            "    if restoring and sig == signal.SIGINT:\n"
            "        restoring.clear()\n        raise KeyboardInterrupt\n"
            "    return old\n"
            "signal.signal = put_back\n"
            "try:\n    with signals_deferred():\n        restoring.append(1)\n"
            "except KeyboardInterrupt:\n    pass\n"
            "print(signal.getsignal(signal.SIGTERM) is term, signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["True", "True"], (r.stdout, r.stderr)

    entry = json.loads((Path(__file__).resolve().parents[1] / "formulas" / "be_even_even_znst.json").read_text())
    Formula.from_dict(entry)
    for edit, message in ((lambda e: e["parameters"][0].update(unit="keV"), r"\(a_V\) has unit 'keV'"),
                          (lambda e: e.update(notation="kansym-physics/9"), "field 'notation' is 'kansym-physics/9'")):
        edited = json.loads(json.dumps(entry))
        edit(edited)
        with pytest.raises(KansymError, match=message):
            Formula.from_dict(edited)


def test_what_the_thirty_fifth_probe_found(monkeypatch):
    """Probe 35 (about 95 inputs, weighted to the estimator and to numbers recomputed from the tables): the API left
    out a member that diverged over the rows of a call without a word (the CLI names it); predict_nuclei after fit()
    judged extrapolation against discover's default selection, not the rows given, and dropped its notes."""
    import warnings

    import kansym
    from kansym import KANSymbolicRegressor

    df = kansym.nuclei(subset="even-even", min_z=8, min_n=8, max_unc=None)
    est = KANSymbolicRegressor(ensemble=4, steps=3, refine=(5,), random_state=0).fit(df[["Z", "N"]], df["BE"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        table = est.predict_nuclei([20, 20], [20, 22], use="kan")  # Ca-40, Ca-42: among the rows fitted
    assert len(table) == 2
    with pytest.warns(UserWarning, match=r"outside the selection the estimator was fitted on \(the rows given to "
                                         r"fit: even-even, Z = 8-\d+, N = 8-\d+\)"):
        est.predict_nuclei([20], [4])
    runaway = est.network_.members[2]
    honest = runaway.predict
    monkeypatch.setattr(runaway, "predict", lambda X: honest(X) + 100.0)  # a member diverging on every row
    with pytest.warns(UserWarning, match=r"KAN members diverging over these 2 rows, left out for all of them: member 2 departs"):
        kan = est.predict(df[["Z", "N"]].head(2), use="kan")
    assert np.all(np.abs(kan - df["BE"].head(2).to_numpy()) < 50)
    with pytest.warns(UserWarning, match=r"KAN members diverging over the 2 nuclei predicted, left out"):
        est.predict_nuclei([20, 20], [20, 22], use="kan")


def test_partial_output_with_a_newline_in_its_name_is_listed_on_one_line(tmp_path):
    """Probe 35: `runs --partial` and `clean` printed a .partial-* name holding a newline as two lines."""
    odd = tmp_path / ".partial-a\nb"
    odd.mkdir()
    r = runner.invoke(app, ["runs", "--partial", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 0 and ".partial-a?b  (left by a crash or interrupt)" in r.output, r.output
    r = runner.invoke(app, ["clean", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 0 and ".partial-a?b" in r.output and "\nb\n" not in r.output and not odd.exists(), r.output


def test_what_the_thirty_sixth_probe_found(formula_run, tmp_path):
    """Probe 36 (about 175 inputs): an odd-odd run with the default --chains was refused naming Zr, a chain the user
    never gave; `extrapolate --both-sides` printed RMS 'over N nuclei beyond the last measured' for the neutron-rich
    side alone; --max-hidden 0 and -3 were refused with different bounds. (A validation cut short by the search
    budget: tests/test_structures.py.)"""
    r = runner.invoke(app, ["discover", "--subset", "odd-odd", "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and "(a chain of the default --chains Zr,Nd,Hg,Fm)" in r.output \
        and "--chains ''" in r.output, r.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    for value in ("0", "-3"):
        r = runner.invoke(app, ["discover", "--max-hidden", value, "--runs-dir", str(tmp_path / "runs")])
        assert r.exit_code == 2 and f"--max-hidden must be >= 1, got {value}" in r.output, r.output
    run = tmp_path / "copy" / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    r = runner.invoke(app, ["extrapolate", str(run), "--chains", "Sn", "--beyond", "2", "--both-sides"])
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "on the neutron-rich side (the proton-rich ones are in extrapolation.csv)" in text, \
        r.output
    rows = pd.read_csv(run / "extrapolation.csv")
    assert (rows["distance"] < 0).any() and (rows["distance"] > 0).any()


def test_what_the_thirty_seventh_probe_found(formula_run, tmp_path):
    """Probe 37 (about 460 inputs): `table1 --force` with table1.tex a directory trained first and then wrote a new
    table1.csv beside it; discover trained on 2 nuclei (a held-out split of 8) and exited 0; a 65-character feature
    name was refused only after training, naming candidates.json; an empty or malformed --scheduler gave a bare
    exception name; an estimator read from a run gave enum objects from get_params(); `runs` on a folder of sweeps
    said only 'no runs'."""
    out = tmp_path / "t1"
    (out / "table1.tex").mkdir(parents=True)
    (out / "table1.csv").write_text("old\n")
    started = time.monotonic()
    r = runner.invoke(app, ["table1", "--models", "ws4", "--ensemble", "1", "--out-dir", str(out), "--force"])
    assert r.exit_code == 2 and "table1.tex exists and is not a regular file; nothing was written" in r.output, r.output
    assert time.monotonic() - started < 10 and (out / "table1.csv").read_text() == "old\n"
    assert sorted(p.name for p in out.iterdir()) == ["table1.csv", "table1.tex"]
    from kansym.pipeline.table1 import write_table1

    (out / "table1.csv").unlink()
    (out / "table1.tex").rmdir()
    frame = pd.DataFrame({"model": ["WS4"], "seeds": [1], **{c: [0.2] for c in (
        "sigma_pre", "sigma_kan_train", "sigma_kan_train_spread", "sigma_kan_test", "sigma_kan_test_spread",
        "paper_sigma_pre", "paper_sigma_kan_train", "paper_sigma_kan_test")}})
    write_table1(frame, out)
    assert (out / "table1.csv").exists() and (out / "table1.tex").exists()
    with pytest.raises(KansymError, match="already holds table1.csv/table1.tex"):
        write_table1(frame, out)
    for args, message in ((["--split", "new-in-ame2020", "--subset", "odd-odd", "--min-z", "100"],
                           "leaves 2 training and 6 test nuclei (new in AME2020) of 8; each side needs at least 10"),
                          (["--split", "none", "--subset", "odd-odd", "--min-z", "100"],
                           "8 selected nuclei are too few to train on; a fit needs at least 10"),
                          (["--split", "new-in-ame2020", "--target", "residual", "--model", "ws4", "--max-unc", "none",
                            "--subset", "odd-odd", "--min-z", "100"], "leaves 2 training and 6 test nuclei")):
        r = runner.invoke(app, ["discover", *args, "--chains", "", "--runs-dir", str(tmp_path / "runs")])
        assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    from kansym.estimator import KANSymbolicRegressor

    X = np.c_[np.arange(20.0) + 30, np.arange(20.0) + 40]
    started = time.monotonic()
    with pytest.raises(KansymError, match="at most 64 characters"):
        KANSymbolicRegressor(steps=2).fit(X, X[:, 0] ** 2, feature_names=["a" * 65, "N"])
    assert time.monotonic() - started < 5
    for address in ("", "tcp://[::1", "tcp://10.0.0.5:8786 extra"):
        r = runner.invoke(app, ["table1", "--backend", "dask", "--scheduler", address, "--out-dir", str(tmp_path / "t2")])
        assert r.exit_code == 2 and "is not a scheduler address: give [SCHEME://]HOST[:PORT]" in r.output, r.output
    params = KANSymbolicRegressor.from_run(formula_run.run_dir).get_params()
    assert all(type(params[k]) is str for k in ("aggregate", "beyond", "trainer")), params
    sweeps = tmp_path / "sweeps"
    (sweeps / "sweep-0123abcd" / "p000-0123abcd").mkdir(parents=True)
    r = runner.invoke(app, ["runs", "--runs-dir", str(sweeps)])
    assert r.exit_code == 0 and "it holds 1 sweep folder, whose points are runs: kansym runs --runs-dir" in \
        " ".join(r.output.split()), r.output


def test_what_the_thirty_eighth_probe_found(formula_run, tmp_path):
    """Probe 38 (about 245 inputs): a run without candidates.json was shown, predicted from and exported with its
    candidates.csv unchecked (hand edits of the choice went unnoticed); a crosscheck.tex without crosscheck.json was
    accepted; `figures` made a file failed only after a 34 s symbolic search, naming a hidden path, and a sweep's
    summary.csv made a folder likewise after its points were checked; a sweep took a symbolic link as a finished
    point; a signal in the last moments of a command (as the interpreter shut down) ended it with exit code 0."""
    for name, fault in (("candidates", lambda run: (run / "candidates.json").unlink()),
                        ("figures", lambda run: (shutil.rmtree(run / "figures"), (run / "figures").write_text("x")))):
        run = tmp_path / name / formula_run.run_dir.name
        shutil.copytree(formula_run.run_dir, run)
        fault(run)
        started = time.monotonic()
        for args in (["show", str(run)], ["symbolic", str(run), "--lib", "poly"]):
            r = runner.invoke(app, args)
            text = " ".join(r.output.split())
            assert r.exit_code == 2 and {"candidates": "candidates.json is missing beside candidates.csv",
                                         "figures": "figures is a file, not the run's folder of figures"}[name] in text, \
                (name, args, r.output)
        assert time.monotonic() - started < 20, name
    from kansym.pipeline.registry import check_partners
    from kansym.runs.store import RunDir

    orphan = tmp_path / "orphan"  # (the shared run may have been cross-checked by another test: a folder of its own)
    orphan.mkdir()
    (orphan / "crosscheck.tex").write_text("\\begin{tabular}{l}\\end{tabular}\n")
    with pytest.raises(KansymError, match="crosscheck.json is missing beside crosscheck.tex"):
        check_partners(RunDir(orphan), {})
    from kansym.pipeline.sweep import plan, run_sweep
    from test_sweep import _base

    sweep = plan(_base(tmp_path / "sw"), {"seed": [0]}, tmp_path / "sw")
    (sweep.root / "summary.csv").mkdir(parents=True)
    with pytest.raises(KansymError, match="summary.csv is not a regular file"):
        run_sweep(sweep)
    (sweep.root / "summary.csv").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (sweep.root / sweep.points[0][0]).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(KansymError, match="is a symbolic link; a sweep's points are folders it writes itself"):
        run_sweep(sweep)
    assert sorted(p.name for p in sweep.root.iterdir()) == [sweep.points[0][0]]
    script = ("import atexit, os, signal, sys, time\nfrom kansym.cli import commands as c\n"
              "c.streams.terminate_as_interrupt()\nlate, twice = getattr(signal, sys.argv[1]), len(sys.argv) > 2\n"
              # the libraries' exit handlers are registered after kansym's, and run before it
              "atexit.register(lambda: (os.kill(os.getpid(), late), time.sleep(0.05)))\n"
              "atexit.register(lambda: (os.kill(os.getpid(), late), time.sleep(0.05)) if twice else None)\n"
              "sys.argv = ['kansym', '--version']\nc.main()\n")
    for signals in (["SIGINT"], ["SIGTERM"], ["SIGINT", "twice"]):  # a second one ends the process at once
        sig = signals[0]
        done = subprocess.run([sys.executable, "-c", script, *signals], capture_output=True, text=True, timeout=60)
        assert done.returncode == 130 and done.stdout.startswith("kansym ") and done.stderr.strip() == \
            "Interrupted as the command ended; it had finished, so its output is complete", (sig, done.stderr)


def test_what_the_thirty_ninth_probe_found(formula_run, tmp_path):
    """Probe 39 (about 233 inputs): from_run with a 5000-character path raised a raw OSError; a NaN layer bound in
    scalers.json was reported as bounds that 'do not match' the layers; a 100,000-character option value was echoed
    whole in the one error line; `--out` in a folder holding a run was called 'a runs directory'."""
    from kansym.estimator import KANSymbolicRegressor

    with pytest.raises(KansymError, match="cannot read the run a{200}: File name too long"):
        KANSymbolicRegressor.from_run("a" * 5000)
    run = tmp_path / "nan" / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    scalers = sorted((run / "kan").rglob("scalers.json"))[0]
    saved = json.loads(scalers.read_text())
    saved["bounds"][1][0][0] = float("nan")
    scalers.write_text(json.dumps(saved))
    r = runner.invoke(app, ["predict", str(run), "--z", "50:52", "--n", "70:72"])
    assert r.exit_code == 2 and "layer bounds hold a number that is not finite" in r.output, r.output
    done = subprocess.run([sys.executable, "-m", "kansym", "data", "--subset", "a" * 100_000], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "...(100000 characters)' is not one of" in done.stderr and \
        len(done.stderr) < 500 and not done.stdout, done.stderr[:300]
    r = runner.invoke(app, ["predict", str(formula_run.run_dir), "--z", "50", "--n", "70",
                            "--out", str(formula_run.run_dir.parent / "m.csv")])
    assert r.exit_code == 2 and f"holds runs ({formula_run.run_dir.name}), and kansym keeps its other outputs out of " \
        "folders of runs" in " ".join(r.output.split()), r.output
    assert not (formula_run.run_dir.parent / "m.csv").exists()


def test_what_the_fortieth_probe_found(formula_run, tmp_path):
    """Probe 40 (about 290 inputs): a seed changed in config.json was blamed on metrics.json's RMSE; a value edited in
    a run's formula.json was reported without the file's name; export to a folder where no file can be made
    (/proc/1) failed after the whole run check with 'No such file or directory'."""
    for name, edit in (("seed", lambda run: _edit_json(run / "config.json", lambda d: d.update(seed=d["seed"] + 1))),
                       ("value", lambda run: _edit_json(run / "formula.json", lambda d: d["parameters"][0].update(
                           value=d["parameters"][0]["value"] * (1 + 1e-6))))):
        run = tmp_path / name / formula_run.run_dir.name
        shutil.copytree(formula_run.run_dir, run)
        edit(run)
        r = runner.invoke(app, ["predict", str(run), "--z", "50", "--n", "70"])
        text = " ".join(r.output.split())
        assert r.exit_code == 2, r.output
        if name == "seed":
            assert "config.json's split 'random:0.8' with seed 1 gives other training and test nuclei than " \
                   "predictions.csv records" in text, r.output
        else:
            assert f"run {run.name}: formula.json" in text, r.output
    if Path("/proc/1").is_dir():
        started = time.monotonic()
        r = runner.invoke(app, ["export", str(formula_run.run_dir), "--name", "x", "--registry", "/proc/1"])
        assert r.exit_code == 2 and "--registry /proc/1 " in r.output and time.monotonic() - started < 10, r.output


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
