"""Cross-check stage: pyoperon on planted formulas, PySR hall-of-fame import, safe parsing, engine errors."""

import importlib.util
import json
import shutil

import numpy as np
import pytest
import sympy as sp
from typer.testing import CliRunner

from kansym.cli.commands import app
from kansym.pipeline.discovery import rerun_crosscheck
from kansym.checks.crosscheck import (PyOperonEngine, PySREngine, extrapolation_set, import_hof,
                               make_engine)
from kansym.errors import KansymError
from kansym.symbolic.exprparse import parse_equation, real_cbrt
from kansym.symbolic.formula import variable_symbols


runner = CliRunner()
Z, N = variable_symbols(("Z", "N"))


def test_pyoperon_recovers_planted_formula():
    rng = np.random.default_rng(1)
    X = rng.uniform(20, 100, (300, 2))
    y = 2.5 * X[:, 0] + 0.01 * X[:, 1] ** 2 + 3.0
    res = PyOperonEngine(maxsize=15, seed=0, generations=20).fit(X, y, ("Z", "N"))
    best = min(res.front, key=lambda f: f.loss)
    pred = sp.lambdify((Z, N), best.expr, "numpy")(X[:, 0], X[:, 1])
    assert np.sqrt(np.mean((pred - y) ** 2)) < 1e-2 * np.std(y)


def test_hall_of_fame_import(tmp_path):
    hof = tmp_path / "hall_of_fame.csv"
    hof.write_text(
        "Complexity,Loss,Equation\n"
        "1,100.0,\"3.5\"\n"
        "5,1.0,\"square(x0) + cbrt(neg(x1))\"\n"
        "8,0.01,\"(x0 ^ 2.0) * inv(x1) - sqrt(x0) + exp(-0.5)\"\n")
    res = import_hof(hof, ("Z", "N"))
    assert len(res.front) == 3 and res.front[0].expr == 3.5
    f1 = sp.lambdify((Z, N), res.front[1].expr, "numpy")
    assert f1(3.0, 8.0) == pytest.approx(9.0 - 2.0)  # real cube root of -8
    f2 = sp.lambdify((Z, N), res.front[2].expr, "numpy")
    assert f2(4.0, 2.0) == pytest.approx(16.0 / 2.0 - 2.0 + np.exp(-0.5))
    assert res.selected in (1, 2)


@pytest.mark.parametrize("bad", [
    "__import__('os').system('echo hacked')",
    "x0.__class__",
    "eval(x0)",
    "lambda: 1",
    "x0; x1",
    "open(x0)",
])
def test_malicious_equations_rejected(bad):
    with pytest.raises(KansymError):
        parse_equation(bad, {"x0": Z, "x1": N})


def test_malformed_hof_names_file_and_row(tmp_path):
    hof = tmp_path / "hof.csv"
    hof.write_text("Complexity,Loss,Equation\n1,1.0,\"x0\"\n3,0.5,\"x0 + foo(x1)\"\n")
    with pytest.raises(KansymError, match=r"hof\.csv row 3: unknown function 'foo'"):
        import_hof(hof, ("Z", "N"))
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(KansymError, match="missing columns"):
        import_hof(bad, ("Z", "N"))


def test_real_cbrt():
    x = sp.Symbol("x", real=True)
    assert sp.lambdify(x, real_cbrt(x))(-27.0) == pytest.approx(-3.0)


@pytest.mark.skipif(importlib.util.find_spec("pysr") is not None and shutil.which("julia") is not None,
                    reason="a Julia runtime is present")
def test_pysr_without_julia_fails_fast():
    with pytest.raises(KansymError, match="(PySR is not installed|needs a Julia runtime)"):
        make_engine("pysr")
    ok, why = PySREngine.available()
    assert not ok and "pyoperon" in why


@pytest.mark.skipif(importlib.util.find_spec("pysr") is None or shutil.which("julia") is None,
                    reason="PySR end-to-end test needs pysr and a Julia runtime (not present)")
def test_pysr_end_to_end():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (100, 2))
    res = PySREngine(time_budget=20, maxsize=10, seed=0).fit(X, X[:, 0] ** 2, ("Z", "N"))
    assert res.front


@pytest.mark.parametrize("budget", [0, -5, float("nan"), float("inf"), 1e300])
def test_bad_time_budget(budget):
    with pytest.raises(KansymError, match="--time-budget must be a number of seconds"):
        make_engine("pyoperon", time_budget=budget)


def test_unknown_engine():
    with pytest.raises(KansymError, match="valid choices: auto, pyoperon, pysr"):
        make_engine("eureqa")


def test_extrapolation_set_even_even():
    import pandas as pd
    ex = extrapolation_set(pd.DataFrame({"Z": [40, 40, 42], "N": [50, 52, 56]}), beyond=3)
    assert list(ex[ex.Z == 40].N) == [54, 56, 58] and list(ex[ex.Z == 42].N) == [58, 60, 62]


def test_crosscheck_run_with_hof_and_pyoperon(formula_run, tmp_path):
    hof = tmp_path / "hof.csv"
    hof.write_text("Complexity,Loss,Equation\n3,1.0,\"8.0 * Z + 8.0 * N\"\n7,0.5,\"8.5 * Z + 8.3 * N - 0.01 * square(N)\"\n")
    run = tmp_path / formula_run.run_dir.name  # a copy: crosscheck_run alone leaves metrics.json's summary behind
    shutil.copytree(formula_run.run_dir, run)
    rep = rerun_crosscheck(run, pysr_hof=hof)
    assert rep["engine"] == "pysr-hof" and rep["rows"][0]["formula"] == "KAN"
    assert sum(r["selected"] for r in rep["rows"][1:]) == 1
    assert (run / "crosscheck.json").exists() and (run / "crosscheck.tex").exists()
    r = runner.invoke(app, ["crosscheck", str(run), "--engine", "pyoperon", "--generations", "3"])
    assert r.exit_code == 0, r.output
    assert "pyoperon" in r.output


def test_same_seed_same_crosscheck(formula_run, tmp_path):
    """A search of a fixed number of generations is reproducible: only the wall time may differ."""
    import json

    reports = []
    for k in range(2):
        run = tmp_path / f"r{k}"
        shutil.copytree(formula_run.run_dir, run)
        rerun_crosscheck(run, "pyoperon", seed=3, generations=4, maxsize=15)  # the command's rerun
        r = runner.invoke(app, ["show", str(run)])
        assert r.exit_code == 0, r.output  # config.json records the seed and size
        rep = json.loads((run / "crosscheck.json").read_text())
        rep.pop("engine_wall_s"), rep.pop("run_id")
        reports.append(rep)
    assert reports[0] == reports[1] and reports[0]["generations"] == 4 and reports[0]["time_budget_s"] is None
    assert len(reports[0]["rows"]) > 2


def test_front_in_json_tex_and_terminal_with_one_constant_per_engine_constant(formula_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(formula_run.run_dir, run)
    hof = tmp_path / "hof.csv"
    hof.write_text("Complexity,Loss,Equation\n3,1.0,\"8.0 * Z + 8.0 * N\"\n"
                   "8,0.7,\"8.0 * Z + 300.0 * cbrt(0.37 * N - 2.1)\"\n"
                   "9,0.5,\"log(-1.0 - square(Z))\"\n")
    r = runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)])
    assert r.exit_code == 0, r.output
    rep = json.loads((run / "crosscheck.json").read_text())
    rows = {row["formula"]: row for row in rep["rows"]}
    assert set(rows) == {"KAN", "pysr-hof[0]", "pysr-hof[1]", "pysr-hof[2]"}  # every member, none twice
    assert rows["pysr-hof[1]"]["n_constants"] == 4  # cbrt writes its argument twice; its two constants stay two
    assert rows["pysr-hof[2]"]["refit_failed"] and rows["pysr-hof[2]"]["n_constants"] is None
    tex = (run / "crosscheck.tex").read_text()
    # two header lines, the KAN and the two refitted formulas; the failed refit only named in the caption
    assert "\\caption{" in tex and tex.count("\\\\") == 2 + 3 and "1 that could not be refitted" in tex
    row = next(ln for ln in tex.splitlines() if ln.startswith("pysr-hof[1]"))
    assert "\\operatorname{sign}" in row and "Z" in row and "pysr-hof[2]" not in tex
    assert rows["pysr-hof[1]"]["numeric_expression"] in r.output and "refit failed" in r.output


def test_cli_crosscheck_bad_inputs(formula_run):
    r = runner.invoke(app, ["crosscheck", str(formula_run.run_dir), "--time-budget", "0"])
    assert r.exit_code == 2 and "(0, 86400]" in r.output
    r = runner.invoke(app, ["crosscheck", str(formula_run.run_dir), "--engine", "pysr"])
    if importlib.util.find_spec("pysr") is None or shutil.which("julia") is None:
        assert r.exit_code == 2 and ("Julia" in r.output or "PySR" in r.output)


def test_an_imported_hall_of_fame_names_no_search_settings(formula_run, tmp_path):
    """--pysr-hof imports a search that was made: search settings beside it are refused (probe 17), and
    crosscheck.tex's caption names no seed or size for it; a report of the previous layout (which named them) is
    still read."""
    import json

    from kansym.checks.crosscheck import crosscheck_tex

    hof = tmp_path / "hof.csv"
    hof.write_text('Complexity,Loss,Equation\n3,9.0,"Z + N"\n5,4.0,"1.5*Z + 2.0*N"\n')
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    for extra in (["--generations", "5"], ["--seed", "3"], ["--maxsize", "12"], ["--time-budget", "10"]):
        r = runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof), *extra])
        assert r.exit_code == 2 and "imports one that was made" in r.output.replace("\n", " "), r.output
    r = runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)])
    assert r.exit_code == 0, r.output
    tex = (run / "crosscheck.tex").read_text()
    assert "an imported hall of fame)" in tex and "largest size" not in tex
    report = json.loads((run / "crosscheck.json").read_text())
    report["tex_layout"] = 2  # as an earlier version wrote it: numbers rounded in binary
    from kansym.checks.crosscheck import shown_numbers
    from kansym.report.export import formula_from_entry

    kan = formula_from_entry(json.loads((run / "formula.json").read_text()))
    for row in report["rows"]:
        F = kan if row["engine"] == "kansym" else formula_from_entry(row["refitted"])
        row.update(shown_numbers(F, 2))
    (run / "crosscheck.json").write_text(json.dumps(report))
    from kansym.pipeline.discovery import crosscheck_summary

    metrics = json.loads((run / "metrics.json").read_text())
    metrics["crosscheck"] = crosscheck_summary(report)  # metrics.json keeps the selected row
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "crosscheck.tex").write_text(crosscheck_tex(report))
    assert "largest size" in (run / "crosscheck.tex").read_text()
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 0, r.output
