"""The README's measured numbers are the benchmarks' own: each checked figure is recomputed from
bench/results/*.json and must appear in the README as printed there."""

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _result(name: str) -> dict:
    return json.loads((ROOT / "bench" / "results" / f"{name}.json").read_text())


def _coverage(setting: dict, source: str, level: str) -> list[float]:
    return [s[source]["coverage"]["BE"][level] for s in setting["per_seed"]]


def _row(label: str) -> str:
    return next(line for line in README.splitlines() if line.startswith(f"| {label}"))


@pytest.mark.parametrize("label, setting, source", [
    ("main job, random 20 % (108) | formula", "be_random", "formula"),
    ("main job, random 20 % (108) | KAN", "be_random", "kan"),
    ("KAN-WS4, random 20 % (468) | KAN", "residual_random", "kan"),
    ("KAN-WS4, random 20 % (468) | formula", "residual_random", "formula"),
    ("KAN-WS4, new in AME2020 (51) | KAN", "residual_new", "kan"),
])
def test_uncertainty_table_is_the_benchmarks(label, setting, source):
    """Median (min-max) over the seeds of the coverage at 1 and 2 sigma, as uncertainty.json gives them."""
    st = _result("uncertainty")["settings"][setting]
    row = _row(label)
    for level in ("within_1_sigma", "within_2_sigma"):
        v = _coverage(st, source, level)
        assert f"{np.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" in row, (level, row)
    errs = [s[source]["model_error_mev"]["BE"] for s in st["per_seed"]]
    assert f"{min(errs):.2f}-{max(errs):.2f}" in row


def test_kan_ws4_and_table1_numbers_are_the_benchmarks():
    """KAN-WS4's median train/test/all RMSE and Table 1's per-model medians and wall time."""
    k = _result("kan_ws4")["median_rmse_mev"]
    assert f"median RMSE train {k['train']:.3f} / test {k['test']:.3f} / all {k['all']:.3f} MeV" in README
    t1 = _result("table1")
    row = _row("Table 1")
    for r in t1["rows"]:
        assert f"{r['model']} {r['sigma_kan_test']:.3f} +- {r['sigma_kan_test_spread']:.3f}" in row, r["model"]
    assert f"**{t1['wall_s']:.0f} s**" in row


@pytest.mark.parametrize("label, name", [
    ("Duflo-Zuker 10-parameter formula, published constants", "Duflo-Zuker 10, published constants"),
    ("Duflo-Zuker 10-parameter formula, constants refitted", "Duflo-Zuker 10, constants refitted on the training nuclei"),
    ("**kansym, default inputs**", "kansym (chosen)"),
])
def test_formula_physics_rows_are_the_benchmarks(label, name):
    """RMSE train / test / all and the RMS (max) against FRDM2012 beyond AME2020 of the default-input rows."""
    row = next(r for r in _result("formula_physics")["default"]["rows"] if r["formula"] == name)
    line = _row(label)
    assert (f"{row['rmse_train_mev']:.2f} / {row['rmse_test_mev']:.2f} / {row['rmse_all_mev']:.2f} | "
            f"{'**' if 'kansym' in label else ''}{row['rms_vs_frdm12_beyond_mev']:.1f} "
            f"({row['max_vs_frdm12_beyond_mev']:.0f})") in line, line
    assert f"| {row['n_constants']} |" in line
