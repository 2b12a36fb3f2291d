"""The mode route: a residual target's network read as a constant plus modes over the nuclear chart."""

import numpy as np
import pytest
import sympy as sp

from kansym.nuclear.features import features
from kansym.nuclear.tables import load_model
from kansym.pipeline.config import DiscoverConfig, load_dataset
from kansym.pipeline.recipe import mode_route
from kansym.symbolic import modes
from kansym.symbolic.formula import refit, term_columns, variable_symbols

NAMES = ("Z", "N", "P", "S")


@pytest.fixture(scope="module")
def residual():
    """The nuclei and split of the default KAN-WS4 run (2340 nuclei, Z, N, P, S)."""
    return load_dataset(DiscoverConfig(target="residual", model="ws4").resolved(environment=False))


def test_dictionary_is_bounded_and_finite_over_the_whole_ws4_table():
    """875 modes for (Z, N, P, S) (624 chart modes, 5 modulated inputs x 49, 6 scaled odd-even factors), 777 without
    P and S; over every nucleus WS4 tabulates each is finite and no larger than the largest input it multiplies."""
    terms = modes.dictionary(NAMES)
    assert len(terms) == 875 and len(set(terms)) == 875
    assert len(modes.dictionary(("Z", "N"))) == 624 + 3 * 49 + 6
    ws4 = load_model("ws4")
    X = features(ws4["Z"].to_numpy(int), ws4["N"].to_numpy(int), "znps")[list(NAMES)].to_numpy(float)
    D = term_columns(variable_symbols(NAMES), X, terms)
    assert D.shape == (len(ws4), 875) and np.isfinite(D).all()
    bound = max(1.0, np.abs(X[:, 2]).max(), np.abs(X[:, 3]).max())
    assert np.abs(D).max() <= bound * (1 + 1e-12)
    Z, N, P, S = variable_symbols(NAMES)
    assert sp.cos(sp.pi * Z) in terms and P * sp.sin(sp.pi * N / 60) in terms
    assert sp.cos(sp.pi * (Z + N)) / sp.sqrt(Z + N) in terms
    assert modes.has_mode_inputs(NAMES) and not modes.has_mode_inputs(("A", "N-Z"))
    assert mode_route(DiscoverConfig(target="residual", model="ws4").resolved(environment=False), NAMES)
    assert not mode_route(DiscoverConfig(target="be").resolved(environment=False), ("Z", "N", "s_Z", "s_N"))


def test_planted_modes_are_recovered_on_the_real_grid(residual):
    """Three planted modes (a chart mode, a modulated P and a scaled odd-even factor; 0.03-0.3 MeV) plus 0.05 MeV
    noise on the 2340 nuclei of the default KAN-WS4 run: the route's three-mode candidate holds exactly those modes,
    and the refitted constants lie within 3 standard errors of the planted ones."""
    Z, N, P, S = variable_symbols(NAMES)
    planted = {sp.sin(sp.pi * Z / 40) * sp.cos(sp.pi * N / 90): 0.2, P * sp.cos(sp.pi * N / 60): -0.15,
               sp.cos(sp.pi * Z) / sp.sqrt(Z + N): 0.5}
    terms = modes.dictionary(NAMES)
    assert all(t in terms for t in planted)
    X, train = residual.X, residual.mask("train")
    D = term_columns(variable_symbols(NAMES), X, list(planted))
    y = D @ np.array(list(planted.values())) + np.random.default_rng(1).normal(0.0, 0.05, len(X))
    cands = modes.mode_candidates(NAMES, X, train, y[train], 30)
    assert [name for name, *_ in cands] == [f"modes-{k}" for k in modes.SIZES if k + 1 <= 30]
    assert [name for name, *_ in modes.mode_candidates(NAMES, X, train, y[train], 12)] == \
        [f"modes-{k}" for k in modes.SIZES if k + 1 <= 12]  # none above the constants allowed
    name, expr, init, pred = next(c for c in cands if c[0] == "modes-3")
    consts = sorted(init, key=lambda s: int(s.name[2:]))
    found = {t.subs({c: 1 for c in consts}): t for t in sp.Add.make_args(expr) if t.free_symbols - set(consts)}
    assert set(found) == set(planted), expr
    f = refit(expr, init, NAMES, X[train], y[train])
    values = {p.name: p for p in f.parameters}
    for mode, value in planted.items():
        (c,) = found[mode].free_symbols & set(consts)
        assert abs(values[c.name].value - value) <= 3 * values[c.name].stderr, (mode, values[c.name])
    assert abs(values["c_0"].value) <= 3 * values["c_0"].stderr


def test_forward_selection_never_takes_a_dependent_or_empty_column():
    """A column that repeats a chosen one, or that is zero (or constant, the base's direction), is never chosen;
    the selection stops when nothing independent is left."""
    rng = np.random.default_rng(0)
    D = rng.normal(size=(200, 3))
    D = np.column_stack([D, D[:, 0], np.zeros(200), np.full(200, 2.0)])
    chosen = modes.forward_selection(D, D[:, 0] + 0.5 * D[:, 1], 6)
    assert chosen[:2] == [0, 1] and sorted(chosen) == [0, 1, 2]


def test_a_long_formula_is_drawn_on_several_lines(residual):
    """formula.png cuts a long sum (20 modes) between its terms, as formula.tex does; the registry's default-input
    formula stays on one line."""
    import json
    from pathlib import Path

    from kansym.report.export import formula_figure
    from kansym.symbolic.formula import formula_from_entry

    terms = modes.dictionary(NAMES)[::40][:20]
    consts = sp.symbols("c_0:20", real=True)
    X, train = residual.X, residual.mask("train")
    y = term_columns(variable_symbols(NAMES), X, terms) @ np.linspace(0.1, 0.3, 20)
    long = refit(sum(c * t for c, t in zip(consts, terms)), dict.fromkeys(consts, 0.1), NAMES, X[train], y[train])
    root = Path(__file__).resolve().parent.parent / "formulas"
    short = formula_from_entry(json.loads((root / "be_even_even_znst.json").read_text()))
    lines = {k: [t.get_text() for t in formula_figure(f, lhs).texts]
             for k, f, lhs in (("long", long, r"\delta M"), ("short", short, "B"))}
    assert len(lines["short"]) == 1 and len(lines["long"]) >= 3
    assert lines["long"][0].startswith(r"$\delta M = ")
    assert all(t.startswith("$+") or t.startswith("$-") for t in lines["long"][1:])


def test_a_mode_candidate_in_a_binding_energy_run_is_refused(formula_run, tmp_path):
    """A candidates.csv row relabelled as the mode route's in a binding-energy run (which has no such route) is
    refused by show, in one line."""
    import pandas as pd
    from typer.testing import CliRunner

    from conftest import uncrosschecked_copy
    from kansym.cli.commands import app

    run = uncrosschecked_copy(formula_run.run_dir, tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    table = pd.read_csv(run / "candidates.csv")
    table.loc[0, "route"] = "modes"
    table.to_csv(run / "candidates.csv", index=False)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "candidates of the modes route" in r.output.replace("\n", " "), r.output
    assert "Traceback" not in r.output
