"""The command line as a script drives it: plain help, --version, --json everywhere, no truncation."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from kansym import __version__
from kansym.cli.commands import app

runner = CliRunner()
TINY_CLI = ["--steps", "3", "--grid", "3", "--refine", "5", "--width", "2", "--crosscheck", "none", "--chains", ""]


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON output"))


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"kansym {__version__}"


@pytest.mark.parametrize("command,expected", [
    ("discover", ["[default: 5 for be/me, 10 for residual]", "Largest ME uncertainty [MeV]", "<be|me|residual>",
                  "<kan|symbolic|all>", "<none|auto|pyoperon|pysr>", "[default: physics+poly]"]),
    ("crosscheck", ["Cap on the search time [s]", "[default: 50]", "[auto|pyoperon|pysr]"]),
    ("symbolic", ["[default: the run's]"]),
    ("table1", ["[default: 4]"]),
])
def test_help_keeps_bracketed_text(command, expected):
    r = runner.invoke(app, [command, "--help"])
    text = " ".join(r.output.split())  # help is wrapped to the terminal width
    assert r.exit_code == 0
    for e in expected:
        assert e in text, e


def test_discover_json_and_notes_saved(tmp_path):
    r = runner.invoke(app, ["discover", "--target", "be", "--stage", "kan", *TINY_CLI, "--ensemble", "1",
                            "--runs-dir", str(tmp_path), "--quiet", "--json"])
    rep = _json(r)
    assert {"run_id", "run_dir", "config", "metrics", "formula", "importance", "notes"} <= set(rep)
    assert rep["config"]["target"] == "be" and set(rep["metrics"]["rmse_mev"]) == {"train", "test", "all"}
    assert rep["formula"] is None and [row["feature"] for row in rep["importance"]] == ["Z", "N", "s_Z", "s_N", "t_Z", "t_N"]
    run = tmp_path / rep["run_id"]
    assert (run / "notes.txt").exists()


def test_runs_and_show_json_and_untruncated(formula_run, tmp_path):
    root = tmp_path / ("a-rather-long-directory-name-" * 3)
    root.mkdir()
    shutil.copytree(formula_run.run_dir, root / formula_run.run_dir.name)
    (root / "broken-run").mkdir()
    (root / "broken-run" / "config.json").write_text("[]")
    rows = _json(runner.invoke(app, ["runs", "--runs-dir", str(root), "--json"]))
    status = {row["run_id"]: row["status"] for row in rows}
    assert status == {"broken-run": "corrupt", formula_run.run_dir.name: "ok"}
    table = runner.invoke(app, ["runs", "--runs-dir", str(root)])
    assert formula_run.run_dir.name in table.output and str(root) in table.output  # whole, not cut with '...'
    rep = _json(runner.invoke(app, ["show", formula_run.run_dir.name, "--runs-dir", str(root), "--json"]))
    assert rep["formula"]["text"] and rep["metrics"]["formula"]["n_constants"] == len(rep["formula"]["parameters"])
    assert _json(runner.invoke(app, ["runs", "--partial", "--runs-dir", str(root), "--json"])) == []


def test_crosscheck_and_extrapolate_json(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    hof = tmp_path / "hall_of_fame.csv"
    hof.write_text("Complexity,Loss,Equation\n3,1.0,\"8.0 * Z + 8.0 * N\"\n")
    rep = _json(runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof), "--json"]))
    assert rep["engine"] and rep["rows"][0]["formula"]
    assert json.loads((run / "metrics.json").read_text())["crosscheck"]["engine"] == rep["engine"]
    rep = _json(runner.invoke(app, ["extrapolate", str(run), "--chains", "Zr", "--beyond", "2", "--against", "frdm12",
                                    "--json"]))
    assert list(rep["per_chain"]) == ["Zr"] and "far" in rep


def test_symbolic_uses_the_library_as_given_and_records_it(formula_run, tmp_path):
    import pandas as pd

    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    r = runner.invoke(app, ["symbolic", str(run), "--lib", "x,x^2"])
    assert r.exit_code == 0, r.output
    names = pd.read_csv(run / "candidates.csv")["name"]
    assert names.str.startswith("x,x^2").all() and not names.str.contains("poly").any()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["lib"] == "x,x^2" and cfg["r2_min"] == 0.9  # the new option recorded, the others kept
    notes = json.loads((run / "metrics.json").read_text())["notes"]
    assert (run / "notes.txt").read_text().count("\n") == sum(len(v) for v in notes.values())


def test_run_files_follow_the_umask(formula_run):
    from kansym.runs.store import current_umask

    if current_umask() & 0o044:
        pytest.skip("the umask makes files private")
    private = [str(p.relative_to(formula_run.run_dir)) for p in [formula_run.run_dir, *formula_run.run_dir.rglob("*")]
               if not p.stat().st_mode & 0o044 == 0o044]
    assert not private  # a colleague in the group (or anyone, with umask 022) can read the run


@pytest.mark.parametrize("args,n", [(["--subset", "even-even", "--min-z", "30", "--min-n", "30"], 520),
                                    (["--target", "be"], 538), (["--target", "be", "--max-unc", "0.1"], 520),
                                    (["--target", "residual", "--max-unc", "none"], None)])
def test_data_uses_discovers_selection_and_says_it(args, n):
    rep = _json(runner.invoke(app, ["data", *args, "--json"]))
    if n is not None:
        assert rep["counts"]["nuclei"] == n
    table = runner.invoke(app, ["data", *args])
    unc = rep["selection"]["max_unc_mev"]
    assert ("no uncertainty cut" if unc is None else f"dME <= {unc} MeV") in table.output


def test_extrapolate_rerun_records_its_options_and_removes_old_chains(formula_run, tmp_path):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    assert runner.invoke(app, ["extrapolate", str(run), "--chains", "Zr", "--beyond", "2"]).exit_code == 0
    assert (run / "figures" / "chain_Zr.png").exists()
    r = runner.invoke(app, ["extrapolate", str(run), "--chains", "Sn", "--beyond", "3", "--against", "frdm12"])
    assert r.exit_code == 0, r.output
    assert not (run / "figures" / "chain_Zr.png").exists() and (run / "figures" / "chain_Sn.png").exists()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["chains"] == ["Sn"] and cfg["extrapolation_options"]["beyond"] == 3
    assert cfg["extrapolation_options"]["against"] == ["frdm12"]


def test_old_runs_keep_their_libraries():
    from kansym.pipeline.config import DiscoverConfig

    old = {"target": "be", "lib": "physics"}  # written before --lib was used as given
    assert DiscoverConfig.from_dict(old).libraries == ("physics", "poly")
    new = {"target": "be", "lib": "physics", "crosscheck_generations": 50}
    assert DiscoverConfig.from_dict(new).libraries == ("physics",)


def test_a_symbolic_rerun_of_a_cross_checked_run_leaves_a_run_every_command_reads(formula_run, tmp_path):
    """Probe 18: the rerun removes the old formula's cross-check; show (and a new cross-check) must accept the run,
    whose config.json still names the cross-check engine discover used."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    hof = tmp_path / "hall_of_fame.csv"
    hof.write_text("Complexity,Loss,Equation\n3,1.0,\"8.0 * Z + 8.0 * N\"\n")
    assert runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)]).exit_code == 0
    config = json.loads((run / "config.json").read_text())
    assert config["crosscheck"] != "none" and config["stage"] == "all"
    r = runner.invoke(app, ["symbolic", str(run), "--lib", "x,x^2"])
    assert r.exit_code == 0 and not (run / "crosscheck.json").exists(), r.output
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(hof)]).exit_code == 0
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 0, r.output
