"""Data layer: bundled tables, selections, features, splits, and `kansym data`."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from kansym.nuclear import tables
from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.nuclear.features import all_features, feature_names
from kansym.nuclear.survey import model_survey
from kansym.nuclear.targets import Selection, build_dataset, parse_split, select_nuclei, split_labels

runner = CliRunner()


def nucleus(df, z, n):
    row = df[(df.Z == z) & (df.N == n)]
    assert len(row) == 1
    return row.iloc[0]


def test_ame2020_counts():
    ame = tables.load_experiment("ame2020")
    assert len(ame) == 3558
    assert int((~ame.estimated).sum()) == 2550
    assert len(select_nuclei(Selection())) == 2340


def test_ame2016_counts():
    ame = tables.load_experiment("ame2016")
    assert len(ame) == 3436
    assert int((~ame.estimated).sum()) == 2497


def test_binding_energy_pb208_and_o16():
    ame = tables.load_experiment()
    pb = nucleus(ame, 82, 126)
    assert pb.BE == pytest.approx(1636.4302, abs=5e-5)
    assert pb.A == 208 and not pb.estimated
    assert nucleus(ame, 8, 8).ME == pytest.approx(-4.73700217, abs=1e-9)
    # BE reproduces the AME BE/A column times A (the column is rounded)
    assert nucleus(tables.load_experiment("ame2016"), 82, 126).BE == pytest.approx(1636.4302, abs=2e-4)


def test_estimated_flag():
    ame = tables.load_experiment()
    # 30Ar is '#' (estimated) in AME2020; 30Cl is measured although its beta-decay energy is '#'
    assert nucleus(ame, 18, 12).estimated
    assert nucleus(ame, 18, 12).ME == pytest.approx(22.071)
    assert not nucleus(ame, 17, 13).estimated


@pytest.mark.parametrize("model,expected", [
    ("ws4", 0.286), ("dz28", 0.407), ("frdm12", 0.586), ("ktuy05", 0.715), ("hfb27", 0.500), ("dz10", 0.579),
])
def test_published_rms(model, expected):
    row = {r["model"]: r for r in model_survey(Selection(), models=(model,))["models"]}[model]
    assert row["covered"] == 2340 and row["missing"] == 0
    assert row["rms_mev"] == pytest.approx(expected, abs=0.001)


def test_model_spot_values():
    ws4 = tables.load_model("ws4")
    assert nucleus(ws4, 82, 126).ME_model == pytest.approx(-21.268, abs=1e-3)
    assert nucleus(tables.load_model("frdm12"), 50, 82).ME_model == pytest.approx(-75.94, abs=1e-3)
    assert nucleus(tables.load_model("dz28"), 20, 28).ME_model == pytest.approx(-43.80, abs=1e-3)


def test_hfb27_is_never_called_hfb31():
    assert tables.MODELS["hfb27"].label == "HFB-27"
    with pytest.raises(KansymError, match="HFB-31.*not bundled"):
        tables.check_model("hfb31")


def test_bhagwat_unavailable():
    with pytest.raises(KansymError, match="Bhagwat 2014.*not bundled"):
        tables.load_model("bhagwat14")


def test_unknown_model_lists_choices():
    with pytest.raises(KansymError, match="valid choices: ws4"):
        tables.load_model("nosuchmodel")


def test_corrupt_ame_line_names_file_and_line(tmp_path):
    lines = (tables.TABLE_DIR / "mass_1.mas20.txt").read_text(encoding="latin-1").splitlines()
    lines[100] = lines[100][:30] + "x.y" + lines[100][33:]
    bad = tmp_path / "mass_1.mas20.txt"
    bad.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(KansymError, match=r"mass_1\.mas20\.txt line 101"):
        tables.parse_ame(bad, tables.AME_EDITIONS["ame2020"])


def test_corrupt_model_line_names_file_and_line(tmp_path):
    lines = (tables.TABLE_DIR / "KTUY05_m246.dat").read_text().splitlines()
    lines[5] = "    8   x8   1.00"
    bad = tmp_path / "KTUY05_m246.dat"
    bad.write_text("\n".join(lines))
    with pytest.raises(KansymError, match=r"KTUY05_m246\.dat line 6"):
        tables.parse_model(bad, tables.MODELS["ktuy05"])


def test_features_hand_checked():
    f = all_features([82, 50, 8], [126, 82, 9])
    pb, sn, o17 = f.iloc[0], f.iloc[1], f.iloc[2]
    assert pb.P == pytest.approx(1 + 12 / math.sqrt(208))
    assert sn.P == pytest.approx(1 + 12 / math.sqrt(132))
    assert o17.P == 0.0  # odd A: Delta = 0
    assert pb.S == 0 and sn.S == 0 and o17.S == 0  # doubly magic; 17O: v_Z = 0
    assert o17.v_N == 1 and o17.N_EO == 1 and o17.Z_EO == 0
    assert pb.Z_shell == 5 and pb.N_shell == 6 and pb.mu_Z == 0.0
    # 64Ni (Z=28, N=36): v_Z 0, v_N 8; odd-odd 64Co-like check of P sign
    g = all_features([28, 27, 29], [36, 37, 36])
    assert g.iloc[0].v_N == 8 and g.iloc[0].S == 0
    assert g.iloc[1].P == pytest.approx(-12 / 8 - 1)
    assert g.iloc[0].mu_N == pytest.approx((36 - 28) / (50 - 28))
    assert feature_names("kan11")[-2:] == ("Z_shell", "N_shell")


def test_shell_occupancy_and_casten_factor_hand_checked():
    f = all_features([82, 66, 50, 100], [126, 104, 66, 160])
    pb, dy, sn, fm = (f.iloc[i] for i in range(4))
    assert pb.s_Z == 0 and pb.s_N == 0 and pb.P_NZ == 0  # doubly magic: closed shells, no valence factor
    assert dy.s_Z == pytest.approx((82 - 50) / 4) and dy.s_N == pytest.approx((104 - 82) * (126 - 104) / 44)
    assert dy.P_NZ == pytest.approx(16 * 22 / (16 + 22))  # 170Dy: mid-shell in both, v_Z 16, v_N 22
    assert sn.s_Z == 0 and sn.P_NZ == 0 and sn.s_N == pytest.approx(16 * 16 / 32)  # Z = 50 closed
    assert fm.s_N == pytest.approx((160 - 126) * (184 - 160) / 58)  # above N = 126: the shell up to 184
    assert feature_names("zns") == ("Z", "N", "s_Z", "s_N") and feature_names("znsp")[-1] == "P_NZ"
    # three-body occupancy t = s (2 mu - 1): 0 at closures and mid-shell, negative below mid-shell, positive above
    assert pb.t_Z == 0 and pb.t_N == 0 and dy.t_Z == 0 and sn.t_N == 0
    assert dy.t_N == pytest.approx((104 - 82) * (126 - 104) / 44 * (2 * (104 - 82) / 44 - 1))
    assert fm.t_Z == pytest.approx((100 - 82) * (126 - 100) / 44 * (2 * 18 / 44 - 1)) and fm.t_Z < 0
    assert feature_names("znst") == ("Z", "N", "s_Z", "s_N", "t_Z", "t_N")
    # beyond the last assumed closures (184 protons, 258 neutrons) no shell is known: s and t are 0, not the
    # last shell's parabola turned negative (HFB-27 reaches N = 290)
    far = all_features([100, 100, 100, 184, 190], [250, 258, 290, 200, 200])
    assert far.s_N.iloc[0] == pytest.approx(8 * 66 / 74) and (far.s_N.iloc[1:3] == 0).all()
    assert (far.t_N.iloc[1:3] == 0).all() and (far.s_Z.iloc[3:] == 0).all() and (far.t_Z.iloc[3:] == 0).all()


def test_subsets_and_cuts():
    ee = select_nuclei(Selection(subset="even-even", min_z=30, min_n=30, max_unc=None))
    assert len(ee) == 538
    assert ((ee.Z % 2 == 0) & (ee.N % 2 == 0)).all()
    oa = select_nuclei(Selection(subset="odd-a"))
    assert (oa.A % 2 == 1).all()
    assert len(select_nuclei(Selection(include_estimated=True, max_unc=None))) > 2457


def test_empty_selection_names_the_cut():
    with pytest.raises(KansymError, match="Z >= 150"):
        select_nuclei(Selection(min_z=150))


def test_unknown_subset():
    with pytest.raises(KansymError, match="valid choices: all, even-even"):
        Selection(subset="even-odd")


def test_splits_seeded():
    nuc = select_nuclei(Selection())
    a, b = split_labels(nuc, "random:0.8", 3), split_labels(nuc, "random:0.8", 3)
    assert (a == b).all() and (a == "train").sum() == 1872
    assert not (split_labels(nuc, "random:0.8", 4) == a).all()
    folds = [split_labels(nuc, f"kfold:3:{i}", 1) == "test" for i in range(3)]
    assert sum(f.sum() for f in folds) == len(nuc)  # every nucleus in exactly one test fold
    assert not (folds[0] & folds[1]).any()


def test_new_in_ame2020_split_has_71_nuclei():
    nuc = select_nuclei(Selection(max_unc=None))
    labels = split_labels(nuc, "new-in-ame2020")
    assert (labels == "test").sum() == 71


@pytest.mark.parametrize("spec", ["random:1.5", "kfold:1", "kfold:3:3", "bogus", "random:x"])
def test_bad_split(spec):
    with pytest.raises(KansymError):
        parse_split(spec)


def test_residual_dataset():
    ds = build_dataset(Selection(), "residual", "znps", "random:0.8", seed=0, model="ws4")
    assert ds.X.shape == (2340, 4)
    assert np.sqrt(np.mean(ds.y ** 2)) == pytest.approx(0.286, abs=0.001)


def test_dataset_bad_inputs():
    with pytest.raises(KansymError, match="valid choices"):
        build_dataset(Selection(), "be", "kan99")
    with pytest.raises(KansymError, match="valid choices: be, me, residual"):
        build_dataset(Selection(), "bogus", "zn")
    with pytest.raises(KansymError, match="needs a mass model"):
        build_dataset(Selection(), "residual", "zn")


def test_cli_data_table():
    result = runner.invoke(app, ["data"])
    assert result.exit_code == 0, result.output
    for label, value in [("WS4", "0.286"), ("DZ28", "0.407"), ("FRDM2012", "0.586"), ("KTUY05", "0.715"),
                         ("HFB-27", "0.500"), ("DZ10", "0.579")]:
        assert label in result.output and value in result.output
    hfb_row = next(line for line in result.output.splitlines() if "0.500" in line)
    assert "HFB-27" in hfb_row


def test_cli_data_json():
    result = runner.invoke(app, ["data", "--json", "--subset", "even-even"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["counts"]["nuclei"] == report["counts"]["even_even"] == 611


@pytest.mark.parametrize("args,message", [
    (["data", "--subset", "foo"], "even-even"),
    (["data", "--min-z", "200"], "Z >= 200"),
    (["data", "--max-unc", "-1"], "must be a positive number"),
])
def test_cli_bad_input_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("data", "discover", "runs", "show", "symbolic", "export", "crosscheck", "extrapolate", "table1"):
        assert cmd in result.output


def test_launcher_equals_package_cli():
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    a = subprocess.run([sys.executable, str(root / "cli.py"), "data", "--json"], capture_output=True, text=True)
    b = runner.invoke(app, ["data", "--json"])
    assert a.returncode == 0 and json.loads(a.stdout) == json.loads(b.output)
