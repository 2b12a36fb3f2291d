"""Predicted mass tables (``kansym predict``, ``predict_nuclei``, ``kansym.chain``) on the real bundled data."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import sympy as sp

import kansym
from kansym import KANSymbolicRegressor
from kansym.checks import masstable as mt
from kansym.errors import KansymError
from kansym.nuclear import tables
from kansym.nuclear.nuclides import be_from_me, separation_energies
from kansym.pipeline.predict import nuclei_frame, parse_range, predict_run
from kansym.symbolic.formula import Formula, Parameter, variable_symbols


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "kansym", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kw)


def _frdm_surface():
    f = tables.load_model("frdm12")
    return mt.Surface("frdm12", f["Z"].to_numpy(), f["N"].to_numpy(),
                      np.asarray(be_from_me(f["Z"], f["N"], f["ME_model"]), dtype=np.float64))


def test_a_table_of_frdm2012_itself_reproduces_its_own_separation_energies():
    s = _frdm_surface()
    zero = mt.Calibration({q: 0.0 for q in mt.QUANTITIES}, {}, {}, "none")
    table = mt.table(s, zero)
    assert list(table.columns[:20]) == list(mt.COLUMNS)
    ref = separation_energies(pd.DataFrame({"Z": s.Z, "N": s.N, "BE": s.be}))
    for q in ("S_n", "S_2n", "S_p", "S_2p"):
        got, want = table[q].to_numpy(), ref[q].to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want)) and np.allclose(got[~np.isnan(got)], want[~np.isnan(want)])
    # neighbours missing from the table give empty cells, never a number from a default
    first = table.loc[table.groupby("Z")["N"].idxmin()]
    assert first["S_n"].isna().all() and first["S_2n"].isna().all()


def test_measured_q_values_are_the_published_ones():
    m = mt.measured(pd.DataFrame({"Z": [92, 82, 50], "N": [146, 126, 82]}))
    assert m["Q_alpha_ame2020"].round(3).tolist() == [4.270, 0.517, -11.733]  # 238U, 208Pb (AME2020 Q_alpha)
    assert round(float(m["Q_beta_minus_ame2020"].iloc[2]), 3) == 3.089  # 132Sn -> 132Sb
    assert round(float(m["S_2n_ame2020"].iloc[2]), 3) == 12.557


def _liquid_drop_formula():
    Z, N = variable_symbols(("Z", "N"))
    a = sp.symbols("a_V a_S a_C a_A", real=True)
    A = Z + N
    expr = a[0] * A - a[1] * A ** sp.Rational(2, 3) - a[2] * Z**2 / A ** sp.Rational(1, 3) - a[3] * (N - Z) ** 2 / A
    params = tuple(Parameter(s.name, v, e, v) for s, v, e in zip(a, (15.6, 17.2, 0.70, 23.3), (0.05, 0.2, 0.004, 0.1)))
    corr = ((1, 0.9, 0.5, 0.6), (0.9, 1, 0.3, 0.4), (0.5, 0.3, 1, 0.2), (0.6, 0.4, 0.2, 1))
    return Formula(expr, ("Z", "N"), params, corr), a


def test_formula_sigma_of_s2n_is_the_covariance_propagated_through_sympy_derivatives():
    formula, a = _liquid_drop_formula()
    cfg = SimpleNamespace(features="zn", target="be", model=None)
    nuclei = pd.DataFrame({"Z": [50] * 6 + [82] * 3, "N": [70, 72, 74, 76, 78, 80, 124, 126, 128]})
    s = mt.surfaces(cfg, None, formula, nuclei, ("formula",))[0]["formula"]
    value, sigma = s.quantity("S_2n")
    Z, N = variable_symbols(("Z", "N"))
    q = formula.expr - formula.expr.subs(N, N - 2)
    grads = [sp.diff(q, p) for p in a]
    cov = formula.covariance()
    vals = {p: par.value for p, par in zip(a, formula.parameters)}
    for k, (z, n) in enumerate(zip(nuclei["Z"], nuclei["N"])):
        if k in (0, 6):  # the first of each chain has no neighbour two neutrons lighter
            assert np.isnan(value[k]) and np.isnan(sigma[k])
            continue
        g = np.array([float(d.subs({**vals, Z: z, N: n})) for d in grads])
        assert sigma[k] == pytest.approx(float(np.sqrt(g @ cov @ g)), rel=1e-9)
        assert value[k] == pytest.approx(float(q.subs({**vals, Z: z, N: n})), rel=1e-12)
    # shared constants: the S_2n error is far below the two masses' errors added independently
    be_sigma = s.quantity("BE")[1]
    assert sigma[3] < 0.2 * np.hypot(be_sigma[3], be_sigma[2])


def test_calibrated_sigma_covers_a_planted_gaussian_error_as_stated():
    ame = tables.load_experiment()
    ee = ame[~ame["estimated"] & (ame["Z"] >= 8) & (ame["N"] >= 8)]  # every measured nucleus: about 2300
    rng = np.random.default_rng(7)
    planted = ee["BE"].to_numpy() + rng.normal(0.0, 0.4, len(ee))
    s = mt.Surface("planted", ee["Z"].to_numpy(), ee["N"].to_numpy(), planted)
    held = rng.random(len(ee)) < 0.5
    cal = mt.calibrate(s, held)
    assert cal.basis == "the run's held-out (test) nuclei"
    assert cal.model_error["BE"] == pytest.approx(0.4, rel=0.15)
    assert cal.model_error["S_2n"] == pytest.approx(0.4 * np.sqrt(2), rel=0.15)  # differences of independent errors
    assert cal.model_error["S_n"] == pytest.approx(0.4 * np.sqrt(2), rel=0.15)
    for q in ("BE", "S_n", "S_2n", "Q_alpha", "Q_beta_minus"):
        assert 0.60 <= cal.coverage[q]["within_1_sigma"] <= 0.78 and 0.90 <= cal.coverage[q]["within_2_sigma"] <= 0.98
    # calibrated on out-of-fold residuals of the other nuclei (the formula's way), counted on the held-out ones
    oof = np.where(held, np.nan, ee["BE"].to_numpy() + rng.normal(0.0, 0.4, len(ee)))
    cv = mt.calibrate(s, held, cv=mt.Surface("cv", s.Z, s.N, oof))
    assert "cross-validation" in cv.basis and cv.n["BE"] == int((~held).sum()) and cv.coverage["BE"]["n"] == held.sum()
    assert cv.model_error["BE"] == pytest.approx(0.4, rel=0.15)
    for q in ("BE", "S_2n", "Q_alpha"):
        assert 0.60 <= cv.coverage[q]["within_1_sigma"] <= 0.78 and 0.90 <= cv.coverage[q]["within_2_sigma"] <= 0.98
    # the rule of earlier runs gives the same scale here (a Gaussian error: both weightings agree)
    old = mt.calibrate(s, held, rule="kansym-1")
    assert old.model_error["BE"] == pytest.approx(0.4, rel=0.15) and "rule" not in old.to_dict()
    assert cal.to_dict()["rule"] == mt.RULE


def test_runs_are_checked_by_the_calibration_rule_they_record(formula_run, tmp_path):
    """The formula's term is calibrated on its cross-validation; a run written by the earlier rule (no 'rule') is
    checked by that rule, an unknown rule is refused."""
    import json
    import shutil

    from kansym.pipeline.config import load_dataset, run_config
    from kansym.pipeline.recipe import load_run_stage
    from kansym.pipeline.registry import check_run

    run = tmp_path / "run"
    shutil.copytree(formula_run.run_dir, run)
    metrics = json.loads((run / "metrics.json").read_text())
    section = metrics["predictive_uncertainty"]
    assert section["formula"]["rule"] == section["kan"]["rule"] == mt.RULE
    assert "cross-validation" in section["formula"]["calibrated_on"]
    assert "cross-validation" not in section["kan"]["calibrated_on"]
    cfg, stage = load_run_stage(run)
    cfg = run_config(json.loads((run / "config.json").read_text()))
    _, _, formula = check_run(run)
    for source in ("kan", "formula"):
        old, _ = mt.source_summary(cfg, load_dataset(cfg), stage, formula, source, rule="kansym-1")
        section[source] = json.loads(json.dumps(old))
    (run / "metrics.json").write_text(json.dumps(metrics))
    check_run(run)  # accepted: checked by the rule it records
    section["formula"]["model_error_mev"]["BE"] *= 0.5
    (run / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(KansymError, match="predictive_uncertainty"):
        check_run(run)
    section["formula"]["model_error_mev"]["BE"] *= 2
    section["formula"]["rule"] = "kansym-9"
    (run / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(KansymError, match="kansym-9"):
        check_run(run)


def test_staggering_and_sign_flags_name_the_nuclei():
    n = np.arange(80, 100, 2)
    zig = pd.DataFrame({"source": "kan", "Z": 50, "N": n,
                        "S_2n": [8.0, 7.5, 7.0, 5.46, 6.37, 5.64, 6.53, 5.39, -0.4, 0.8]})
    notes = mt.staggering(zig)
    assert any("zig-zags" in t and "Z = 50 (N = 86, 88, 90, 92, 96)" in t for t in notes)
    assert any("turns positive again" in t and "N = 98" in t for t in notes)
    smooth = zig.assign(S_2n=np.linspace(8, 2, len(n)))
    assert mt.staggering(smooth) == []


def test_drip_line_is_the_last_nucleus_before_s2n_turns_negative():
    frame = pd.DataFrame({"Z": 50, "N": [118, 120, 122, 124, 126], "S_n": np.nan, "S_2n": [np.nan, 1.0, 0.3, -0.2, 0.1]})
    d = mt.drip_line(frame).iloc[0]
    assert (d["N_drip"], d["N_first_unbound"], d["by"]) == (122, 124, "S_2n")
    # predictions that stop (non-finite) before any unbound nucleus do not make a drip line
    stops = frame.assign(S_2n=[1.0, 0.8, np.nan, np.nan, np.nan])
    d = mt.drip_line(stops).iloc[0]
    assert d["N_drip"] is None and d["by"] == "end"
    # odd-N isotopes unbound to one neutron do not cut the chain: every subset gives the same line
    assert kansym.chain("Sn")["N"].max() == kansym.chain("Sn", subset="all")["N"].max() - 1 == 118


@pytest.mark.parametrize("z, n, message", [([50, 52], [70, 72, 74], "same length"), (50.5, 70, "whole numbers"),
                                           (0, 10, "whole numbers"), ([50, 50], [70, 70], "twice"),
                                           ([], [], "are empty"), ([[50, 52]], [[70, 72]], "2-D"), ("50", 70, "whole numbers")])
def test_nuclei_are_checked(z, n, message):
    with pytest.raises(KansymError, match=message):
        nuclei_frame(z, n)


@pytest.mark.parametrize("text, message", [("120:20", "inverted"), ("0:10", "inside"), ("a:b", "range"),
                                           ("1:2:3", "range"), ("", "range"), ("٣:5", "range")])
def test_ranges_are_checked(text, message):
    with pytest.raises(KansymError, match=message):
        parse_range(text, "--z", 200)


def test_chain_to_the_drip_line_of_a_model():
    sn = kansym.chain("Sn")
    assert sn["N"].min() == 50 and (sn["Z"] == 50).all() and (sn["N"] % 2 == 0).all()
    frdm = _frdm_surface()
    s2n = dict(zip(frdm.N[frdm.Z == 50], frdm.quantity("S_2n")[0][frdm.Z == 50]))
    last = int(sn["N"].max())
    assert s2n[last] > 0 and not s2n.get(last + 2, -1) > 0
    assert kansym.chain("Sn", to=60)["N"].max() == 60
    with pytest.raises(KansymError, match="unknown element"):
        kansym.chain("Xx")


def test_predict_cli_writes_the_table_and_api_gives_the_same(formula_run, tmp_path):
    run = formula_run.run_dir
    out = tmp_path / "t.csv"
    r = _cli("predict", run, "--domain", "frdm12", "--out", out)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out)
    assert list(table.columns[:20]) == list(mt.COLUMNS) and set(table["source"]) == {"kan", "formula"}
    assert "model-error terms" in r.stderr and r.stdout == ""
    ours = predict_run(run, domain="frdm12").table
    assert len(ours) == len(table)
    assert np.allclose(ours["BE"], table["BE"], atol=1e-6) and np.allclose(ours["S_2n"], table["S_2n"], atol=1e-6,
                                                                           equal_nan=True)
    # the measured values sit beside the predictions
    m = table.dropna(subset=["BE_ame2020"])
    assert len(m) and np.all(np.abs(m["BE"] - m["BE_ame2020"]) < 50)
    # the API of a loaded run gives the same frame, bit for bit
    est = KANSymbolicRegressor.from_run(run)
    some = ours[ours["source"] == "kan"].head(30)
    api = est.predict_nuclei(some["Z"].to_numpy(), some["N"].to_numpy(), use="kan")
    assert np.array_equal(api["BE"].to_numpy(), some["BE"].to_numpy())
    # an existing --out is kept without --force, replaced with it
    before = out.read_bytes()
    r = _cli("predict", run, "--z", "40:44", "--n", "50:60", "--out", out)
    assert r.returncode == 2 and "--force" in r.stderr and out.read_bytes() == before
    r = _cli("predict", run, "--z", "40:44", "--n", "50:60", "--out", out, "--force", "--format", "ame")
    assert r.returncode == 0 and out.read_text().startswith("# kansym") and "   50   40   90  Zr" in out.read_text()


@pytest.mark.parametrize("args, message", [
    (["--domain", "nope"], "nope"), (["--z", "90:20", "--n", "20:40"], "inverted"),
    (["--domain", "ws4", "--z", "20:40"], "not both"), ([], "say which nuclei"),
    (["--to-drip-line", "--elements", "Ca"], "below the run's selection"),
    (["--to-drip-line", "--elements", "Xx"], "unknown element"),
    (["--elements", "Sn", "--domain", "ws4"], "goes with --to-drip-line"),
    (["--domain", "ws4", "--out", "/dev/null/t.csv"], "/dev/null"), (["--domain", "ws4", "--out", "."], "a file"),
    (["--z", "50", "--n", "70", "--out", "typo/t.csv"], "does not exist"),
    (["--z", "50", "--n", "70", "--use", "neither"], "neither")])
def test_predict_bad_input_is_one_line_and_exit_2(formula_run, tmp_path, args, message):
    r = _cli("predict", formula_run.run_dir, *args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_predict_formula_of_a_run_without_one_is_refused(tiny_run, tmp_path):
    r = _cli("predict", tiny_run.run_dir, "--domain", "ws4", "--use", "formula", "--out", tmp_path / "t.csv")
    assert r.returncode == 2 and "no formula" in r.stderr and not (tmp_path / "t.csv").exists()


def test_extrapolation_records_drip_lines_beside_frdm2012_and_ws4(formula_run):
    from kansym.checks.extrapolation import extrapolate
    from kansym.pipeline.predict import load_run

    cfg, stage, formula = load_run(formula_run.run_dir)
    report = extrapolate(cfg, stage, formula, chains=("Sn",), beyond=2).report
    sn = report["drip_lines"]["Sn"]
    assert set(sn) == {"kan", "formula", "frdm12", "ws4"}
    assert sn["frdm12"] == int(kansym.chain("Sn")["N"].max())  # the same rule on FRDM2012's own masses
    drip = predict_run(formula_run.run_dir, to_drip_line=True, elements=("Sn",), use=("formula",))
    assert drip.drip_lines["formula"]["N_drip"].iloc[0] == sn["formula"]
    assert drip.table["N"].max() == sn["formula"] and (drip.table["S_2n"].dropna() > 0).all()


def test_predict_and_stage_reruns_refuse_an_edited_network(formula_run, tmp_path):
    """A network file edited so that show refuses the run: predict does not print its numbers and a stage rerun does
    not rewrite the run into one show would accept."""
    import json
    import shutil

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    scalers = next((run / "kan").rglob("scalers.json"))
    data = json.loads(scalers.read_text())
    data["y_scaler"]["center"] = [data["y_scaler"]["center"][0] + 1e-3]
    scalers.write_text(json.dumps(data))
    for args in (["predict", run, "--z", "50", "--n", "70:80"], ["extrapolate", run, "--chains", "Sn", "--beyond", "2"]):
        r = _cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == "", (args, r.stderr)
    with pytest.raises(KansymError):
        KANSymbolicRegressor.from_run(run)


def test_predict_does_not_write_into_the_run(formula_run, tmp_path):
    r = _cli("predict", formula_run.run_dir, "--z", "50", "--n", "70", "--out", formula_run.run_dir / "metrics.json",
             "--force")
    assert r.returncode == 2 and "inside the run" in r.stderr
