"""The run writer: what the stages computed (:mod:`kansym.pipeline.stages`, ``kansym.checks.extrapolation``) put
into a run directory through the writing primitives of :mod:`kansym.runs.store`. ``discover`` and every stage rerun
write through these functions and no others."""

from __future__ import annotations

from pathlib import Path

from kansym.checks.crosscheck import crosscheck_tex
from kansym.nuclear import tables
from kansym.report import figures as figs
from kansym.runs.artifacts import save_figures, save_network
from kansym.runs.registry import write_formula
from kansym.runs.store import remove, save_figure, write_bytes_atomic, write_csv, write_json_atomic, write_text_atomic

FORMULA_DEPENDENT = ("crosscheck.json", "crosscheck.tex", "extrapolation.csv", "extrapolation.json",
                     "figures/chain_*.png", "figures/far_*.png")
"""Artifacts computed from the formula (or with it), stale once the symbolic stage is rerun."""


def remove_files(path: Path) -> None:
    """Remove a file or a folder of a run."""
    remove(path)


def remove_matching(path: Path, patterns) -> list[str]:
    """Remove the files of ``path`` matching ``patterns`` (a ``*.png`` pattern covers the figures' PDF twins
    too, see ``save_figure``); their paths relative to ``path``."""
    gone = []
    for pattern in (q for p in patterns for q in ((p, p[:-4] + ".pdf") if p.endswith(".png") else (p,))):
        for f in sorted(path.glob(pattern)):
            remove(f)
            gone.append(str(f.relative_to(path)))
    return gone


def write_config(path: Path, config: dict) -> None:
    """config.json."""
    write_json_atomic(path / "config.json", config)


def write_metrics(path: Path, metrics: dict) -> None:
    """notes.txt and metrics.json (last: a run's metrics say it is complete)."""
    write_notes(path, metrics)
    write_json_atomic(path / "metrics.json", metrics)


def write_networks(path: Path, stage) -> None:
    """The stage's networks under ``path/kan``: the checkpoint files training wrote, byte for byte, when the stage
    kept them (``fit_recipe(keep_checkpoints=True)``), else each kept network saved anew."""
    if stage.checkpoints is not None:
        for name, data in stage.checkpoints.items():
            write_bytes_atomic(path / "kan" / name, data)
    elif len(stage.members) == 1:
        save_network(stage.members[0], path / "kan")
    else:
        for m in stage.members:
            save_network(m, path / "kan" / f"seed_{m.seed}")


def write_kan(path: Path, kan) -> None:
    """predictions.csv, importance.csv, loss_curve.csv, the networks and the network and residual figures."""
    write_networks(path, kan.stage)
    write_csv(path / "predictions.csv", kan.predictions)
    write_csv(path / "importance.csv", kan.importance)
    write_csv(path / "loss_curve.csv", kan.loss_curve)
    save_figure(kan.network_figure, path / "figures" / "network.png", bbox_inches="tight", dpi=120)
    save_figure(kan.residual_figure, path / "figures" / "residual_chart.png", dpi=120)


def write_symbolic(path: Path, sym) -> None:
    """edges.csv, the edge figures, candidates.csv, candidates.json and its figure, and the formula (formula.json, .tex, .png), or
    no formula files when none was chosen."""
    write_csv(path / "edges.csv", sym.edges)
    save_figures(sym.edge_figures, path / "figures" / "edges", dpi=110)
    write_csv(path / "candidates.csv", sym.candidates)
    write_json_atomic(path / "candidates.json", sym.candidate_entries)
    save_figure(sym.candidates_figure, path / "figures" / "candidates.png", dpi=120)
    if sym.metrics is None:
        remove_matching(path, ("formula.json", "formula.tex", "formula.png", "figures/formula_residual_chart.png"))
        return
    write_formula(path, "formula", sym.search.chosen.formula, sym.metrics, sym.context, sym.lhs, force=True,
                  label=sym.context["run_id"])
    save_figure(sym.figure, path / "formula.png", dpi=130, bbox_inches="tight")
    save_figure(sym.residual_figure, path / "figures" / "formula_residual_chart.png", dpi=120)


def write_extrapolation(path: Path, ext, figures: bool = True) -> None:
    """extrapolation.csv/.json and (with ``figures``) the chain figures and the far-check maps."""
    write_csv(path / "extrapolation.csv", ext.surface)
    write_json_atomic(path / "extrapolation.json", ext.report)
    if not figures:
        return
    surface = ext.surface
    for extra in (ext.bands, ext.splits):  # the figures' predictive bands and train/test marks
        if extra is not None:
            surface = surface.merge(extra, on=["Z", "N"], how="left")
    for ch, f in surface.groupby("chain", sort=False):
        save_figure(figs.chain_plot(f, ext.preds, ext.against, ch), path / "figures" / f"chain_{ch}.png", dpi=110)
    judge = ext.judge
    ref_label = tables.MODELS[judge.reference].label
    diffs = {p: be - judge.dom["BE_ref"].to_numpy() for p, be in ext.far_values.items()}
    limit = figs.far_limit(diffs.values())  # one colour scale: the KAN's and the formula's maps compare
    for p in diffs:
        save_figure(figs.far_plot(judge.dom, diffs[p], limit=limit,
                                  title=f"{'KAN' if p == 'kan' else 'formula'} BE minus {ref_label} BE [MeV], "
                                        f"{len(judge.dom)} nuclei ({int(judge.dom['beyond'].sum())} beyond "
                                        "AME2020)"),
                    path / "figures" / f"far_{p}_minus_{judge.reference}.png", dpi=110)


def write_crosscheck(path: Path, report: dict) -> None:
    """crosscheck.json and crosscheck.tex."""
    write_json_atomic(path / "crosscheck.json", report)
    write_text_atomic(path / "crosscheck.tex", crosscheck_tex(report))


NO_NOTES = "(no notes)\n"
"""notes.txt of a run whose stages noted nothing (never an empty file)."""


NOTE_STAGES = ("data", "symbolic", "extrapolation")
"""The stages whose notes a run keeps (``metrics["notes"]``), one line each."""


def note_lines(notes) -> list[str]:
    """A stage's notes as ``metrics["notes"]`` keeps them: each once, on one line."""
    return list(dict.fromkeys(" ".join(str(n).splitlines()) for n in notes))


def notes_text(notes: dict) -> str:
    """notes.txt's text: every stage's notes (``metrics["notes"]``: stage -> notes), a line each."""
    return "".join(f"{st}: {n}\n" for st, ns in notes.items() for n in ns) or NO_NOTES


def write_notes(path: Path, metrics: dict) -> None:
    """notes.txt of ``metrics["notes"]``."""
    write_text_atomic(path / "notes.txt", notes_text(metrics.get("notes", {})))
