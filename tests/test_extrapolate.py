"""Extrapolation stage: separation energies, chains, new-masses split, stability metrics, figures."""

import json
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kansym.nuclear import tables
from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.pipeline.recipe import load_run_stage
from kansym.pipeline.discovery import extrapolate_run
from kansym.checks.extrapolation import attach_references, stability
from kansym.nuclear.nuclides import chain_nuclei, element_z, separation_energies
from kansym.nuclear.targets import Selection, select_nuclei, split_labels


runner = CliRunner()


def be(ame, z, n):
    return float(ame[(ame.Z == z) & (ame.N == n)].BE.iloc[0])


def test_separation_energies_by_hand():
    ame = tables.load_experiment()
    sep = separation_energies(ame[["Z", "N", "BE"]])
    row = sep[(sep.Z == 82) & (sep.N == 126)].iloc[0]
    assert row.S_n == pytest.approx(be(ame, 82, 126) - be(ame, 82, 125))
    assert row.S_2n == pytest.approx(be(ame, 82, 126) - be(ame, 82, 124))
    assert row.S_p == pytest.approx(be(ame, 82, 126) - be(ame, 81, 126))
    assert row.S_2p == pytest.approx(be(ame, 82, 126) - be(ame, 80, 126))
    # 208Pb: S_n = 7.368 MeV, S_2n = 14.106 MeV (AME2020)
    assert row.S_n == pytest.approx(7.368, abs=0.002)
    assert row.S_2n == pytest.approx(14.106, abs=0.002)
    o16 = sep[(sep.Z == 8) & (sep.N == 8)].iloc[0]
    assert o16.S_n == pytest.approx(15.664, abs=0.002)


def test_chain_extraction():
    measured = pd.DataFrame({"Z": [40] * 4 + [50], "N": [50, 52, 54, 56, 70]})
    ch = chain_nuclei(40, measured, beyond=3, step=2)
    assert list(ch.N) == [50, 52, 54, 56, 58, 60, 62] and list(ch.distance) == [0, 0, 0, 0, 1, 2, 3]
    both = chain_nuclei(40, measured, beyond=2, step=2, both_sides=True)
    assert list(both.N)[:2] == [46, 48] and list(both.distance)[:2] == [-2, -1]
    assert element_z("Zr") == 40 and element_z("fm") == 100
    with pytest.raises(KansymError, match="unknown element symbol"):
        element_z("Qq")
    with pytest.raises(KansymError, match="no measured nuclei"):
        chain_nuclei(41, measured, 3, 2)
    iso = chain_nuclei(50, pd.DataFrame({"Z": [40, 42, 44], "N": [50, 50, 50]}), beyond=2, step=2, fixed="N")
    assert list(iso.Z) == [36, 38, 40, 42, 44] and set(iso.N) == {50} and list(iso.distance)[:2] == [2, 1]


def test_new_masses_split_has_71():
    labels = split_labels(select_nuclei(Selection(max_unc=None)), "new-in-ame2020")
    assert int((labels == "test").sum()) == 71


def test_stub_equal_to_frdm_has_zero_deviation():
    nuc = chain_nuclei(60, select_nuclei(Selection(subset="even-even")), beyond=5, step=2)
    frame = attach_references(nuc, ("frdm12", "ws4"))
    frame["ME_kan"] = frame["ME_frdm12"]
    st = stability(frame, ("kan",), ("frdm12", "ws4"))
    assert st["kan"]["rms_vs_frdm12_mev"] == 0.0 and st["kan"]["max_abs_vs_frdm12_mev"] == 0.0
    assert st["kan"]["rms_vs_ws4_mev"] > 0


@pytest.fixture
def ext_run(formula_run):
    return formula_run


def test_extrapolate_run_outputs(ext_run):
    rep = extrapolate_run(ext_run.run_dir, loaded=load_run_stage(ext_run.run_dir), chains=("Zr", "Hg"), beyond=5)
    d = ext_run.run_dir
    csv = pd.read_csv(d / "extrapolation.csv")
    assert set(csv.chain) == {"Zr", "Hg"} and (csv.distance == 5).sum() == 2
    for name in ("chain_Zr.png", "chain_Hg.png", "far_kan_minus_frdm12.png", "far_formula_minus_frdm12.png"):
        assert (d / "figures" / name).stat().st_size > 1000, name
    for p in ("kan", "formula"):
        assert rep["overall"][p]["non_finite"] == 0
        assert np.isfinite(rep["overall"][p]["rms_vs_frdm12_mev"])
    far = rep["far"]["formula"]
    assert far["n_nuclei"] == 2027 and far["n_beyond_ame2020"] == 1308 and far["domain"] == "frdm12"
    assert set(far["deviation_mev"]) == {"frdm12", "ws4"} and far["passed"] == (not far["failures"])
    assert rep["separation_energy_rms_vs_ame2020"]["kan"]["S_2n"]["n"] > 100


def test_extrapolate_bad_inputs(ext_run):
    with pytest.raises(KansymError, match="unknown element symbol"):
        extrapolate_run(ext_run.run_dir, loaded=load_run_stage(ext_run.run_dir), chains=("Xx",))
    with pytest.raises(KansymError, match="leaves the FRDM2012 table"):
        extrapolate_run(ext_run.run_dir, loaded=load_run_stage(ext_run.run_dir), chains=("Zr",), beyond=90)
    with pytest.raises(KansymError, match=r"1 \.\. 100"):
        extrapolate_run(ext_run.run_dir, loaded=load_run_stage(ext_run.run_dir), chains=("Zr",), beyond=300)
    r = runner.invoke(app, ["extrapolate", str(ext_run.run_dir), "--chains", "Zr", "--against", "hfb31"])
    assert r.exit_code == 2 and "HFB-31" in r.output


def test_isotones(ext_run):
    rep = extrapolate_run(ext_run.run_dir, loaded=load_run_stage(ext_run.run_dir), chains=(), beyond=3, isotones=("82",))
    csv = pd.read_csv(ext_run.run_dir / "extrapolation.csv")
    assert set(csv.N) == {82} and set(csv.chain) == {"N=82"} and rep["chains"] == ["N=82"]
    assert (ext_run.run_dir / "figures" / "chain_N=82.png").exists()
    with pytest.raises(KansymError, match="not a neutron number"):
        extrapolate_run(ext_run.run_dir, loaded=load_run_stage(ext_run.run_dir), chains=(), isotones=("abc",))


def test_run_without_formula_is_kan_only(tiny_run):
    rep = extrapolate_run(tiny_run.run_dir, loaded=load_run_stage(tiny_run.run_dir), chains=("Zr",), beyond=3, figures=False)
    assert "formula" not in rep["overall"] and any("KAN-only" in n for n in rep["notes"])
    assert set(rep["far"]) == {"kan"}  # no formula is judged, nothing stands in for it


def test_symbolic_stage_judges_every_candidate(formula_run):
    cands = pd.read_csv(formula_run.run_dir / "candidates.csv")
    assert {"route", "sane", "far_departure_mev", "failures", "max_abs_correlation", "pareto"} <= set(cands.columns)
    chosen = cands[cands.chosen]
    assert len(chosen) <= 1 and chosen.sane.all()  # a failing candidate is never chosen
    assert not cands[cands.pareto & ~cands.sane].shape[0]
    f = formula_run.metrics["formula"]
    if f is not None:
        assert f["far_check"]["passed"] and f["kan_agreement_mev"] >= 0
    r = runner.invoke(app, ["show", str(formula_run.run_dir)], terminal_width=200)
    assert r.exit_code == 0 and "formula" in r.output


def test_extrapolation_stage_is_pure(formula_run, tmp_path, monkeypatch):
    from kansym.checks.extrapolation import Extrapolation, extrapolate
    from kansym.symbolic.formula import Formula

    monkeypatch.chdir(tmp_path)
    cfg, stage = load_run_stage(formula_run.run_dir)
    before = sorted(p.name for p in formula_run.run_dir.rglob("*"))
    formula = Formula.from_dict(json.loads((formula_run.run_dir / "formula.json").read_text()))
    ext = extrapolate(cfg, stage, formula, ("Zr",), beyond=2, against=("frdm12",))
    assert isinstance(ext, Extrapolation) and list(ext.report["per_chain"]) == ["Zr"]
    assert {"ME_kan", "ME_formula", "sigma_fit_formula", "ME_frdm12"} <= set(ext.surface.columns)
    assert not any(tmp_path.iterdir()) and sorted(p.name for p in formula_run.run_dir.rglob("*")) == before
