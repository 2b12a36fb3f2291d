"""Hostile inputs to the Python API and the command line: wrong types, nonsensical splits, and importance
that must not hide an input the prediction depends on."""

import numpy as np
import pytest
from typer.testing import CliRunner

import kansym
from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.network.regressor import KANRegressor, TrainSchedule, input_spread
from kansym.nuclear.targets import MIN_SPLIT_NUCLEI, Selection, select_nuclei, split_labels

runner = CliRunner()


# --------------------------------------------------------------------------- selection types

@pytest.mark.parametrize("value", ["no", "False", "", 1, 0, None, [True]])
def test_include_estimated_must_be_a_bool(value):
    with pytest.raises(KansymError, match="include_estimated must be True or False"):
        kansym.nuclei(include_estimated=value)


def test_include_estimated_bools_still_work():
    measured, every = kansym.nuclei(), kansym.nuclei(include_estimated=np.bool_(True))
    assert len(every) > len(measured) and not measured["estimated"].any()


@pytest.mark.parametrize("kw,match", [({"min_z": True}, "--min-z"), ({"min_n": 8.5}, "--min-n"),
                                      ({"max_unc": "0.1"}, "--max-unc"), ({"max_unc": True}, "--max-unc"),
                                      ({"subset": None}, "subset")])
def test_selection_refuses_other_types(kw, match):
    with pytest.raises(KansymError, match=match):
        Selection(**kw)


def test_one_model_name_is_one_model():
    assert "ME_ws4" in kansym.nuclei(models="ws4").columns


# --------------------------------------------------------------------------- splits

@pytest.fixture(scope="module")
def default_nuclei():
    return select_nuclei(Selection())  # 2340 nuclei


@pytest.mark.parametrize("spec,bound", [("kfold:100000", "K <= 234"), ("kfold:235", "K <= 234"),
                                        ("random:0.999", "at least 10"), ("random:0.001", "at least 10")])
def test_nonsensical_splits_state_the_bound(default_nuclei, spec, bound):
    with pytest.raises(KansymError, match=bound) as info:
        split_labels(default_nuclei, spec)
    assert "\n" not in str(info.value)


def test_splits_at_the_bound_still_work(default_nuclei):
    labels = split_labels(default_nuclei, "kfold:234:233")
    assert (labels == "test").sum() >= MIN_SPLIT_NUCLEI
    assert (split_labels(default_nuclei, "random:0.9957") == "test").sum() == MIN_SPLIT_NUCLEI


def test_too_few_nuclei_for_any_split(default_nuclei):
    with pytest.raises(KansymError, match="too few for a test split"):
        split_labels(default_nuclei.iloc[:15], "random:0.5")
    with pytest.raises(KansymError, match="too few for 2 folds"):
        split_labels(default_nuclei.iloc[:15], "kfold:2")


def test_cli_refuses_kfold_100000_before_any_work(tmp_path):
    runs = tmp_path / "runs"
    r = runner.invoke(app, ["discover", "--split", "kfold:100000", "--crosscheck", "none", "--quiet",
                            "--runs-dir", str(runs)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("Error:") and "K <= " in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and not runs.exists()


# --------------------------------------------------------------------------- importance

def test_input_spread_of_a_linear_function():
    X = np.column_stack([np.arange(10.0), np.tile([0.0, 1.0], 5), np.full(10, 3.0)])
    spread = input_spread(lambda A: 2.0 * A[:, 0] - 0.8 * A[:, 1], X)
    assert spread == pytest.approx([2.0 * X[:, 0].std(), 0.4, 0.0])


def test_binary_inputs_that_move_the_prediction_are_important():
    """Mass excess on Z, N and the parities Z_EO, N_EO (0/1) with a linear baseline: pruning leaves the
    parities no network edge (pykan's attribution gives them 0), yet flipping one moves the prediction."""
    names = ("Z", "N", "Z_EO", "N_EO")
    df = kansym.nuclei(features="kan9")
    X, y = df[list(names)].to_numpy(float), df["ME"].to_numpy()
    reg = KANRegressor(width=(2,), baseline="linear", feature_names=names,
                       schedule=TrainSchedule(grids=(3, 5), steps=3)).fit(X, y)
    imp = reg.importance_
    assert imp.sum() == pytest.approx(1.0) and (imp >= 0).all()
    for j in (2, 3):
        flipped = X.copy()
        flipped[:, j] = 1.0 - flipped[:, j]
        moved = np.sqrt(np.mean((reg.predict(flipped) - reg.predict(X)) ** 2))  # MeV
        assert moved > 0.1 and imp[j] > 0, (names[j], moved, imp[j])
