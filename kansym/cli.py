"""Command-line interface: parse options, call the Python API, render with rich.

Results go to stdout; progress and diagnostics go to stderr. User mistakes exit with code 2.
"""

from __future__ import annotations

import functools
import json
from enum import Enum
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from kansym.errors import KansymError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="kansym: discover closed-form nuclear-mass formulas with Kolmogorov-Arnold networks.")
out = Console()
err = Console(stderr=True)


def handled(fn):
    """Turn KansymError into 'Error: ...' on stderr and exit code 2 (no traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KansymError as exc:
            err.print(f"[bold red]Error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(code=2) from None
    return wrapper


class Subset(str, Enum):
    all = "all"
    even_even = "even-even"
    odd_a = "odd-a"
    odd_odd = "odd-odd"
    even_z = "even-z"
    even_n = "even-n"


@app.callback()
def root():
    """kansym: discover closed-form nuclear-mass formulas with Kolmogorov-Arnold networks."""


def _fmt(x: float, digits: int = 3) -> str:
    return "-" if x != x else f"{x:.{digits}f}"


@app.command()
@handled
def data(
    subset: Subset = typer.Option(Subset.all, help="Nuclide subset."),
    min_z: int = typer.Option(8, help="Smallest proton number."),
    min_n: int = typer.Option(8, help="Smallest neutron number."),
    max_unc: float = typer.Option(0.1, help="Largest AME2020 mass-excess uncertainty [MeV]."),
    include_estimated: bool = typer.Option(False, help="Keep '#' (estimated) AME values."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Coverage and RMS of every bundled mass model against AME2020 on a selection."""
    from kansym.survey import model_survey
    from kansym.targets import Selection

    report = model_survey(Selection(subset.value, min_z, min_n, max_unc, include_estimated))
    if as_json:
        out.print_json(json.dumps(report))
        return
    c = report["counts"]
    table = Table(title=f"Mass models vs AME2020: {c['nuclei']} nuclei "
                        f"({c['even_even']} e-e, {c['odd_a']} odd-A, {c['odd_odd']} o-o), "
                        f"Z {c['Z_range'][0]}-{c['Z_range'][1]}, N {c['N_range'][0]}-{c['N_range'][1]}")
    for col in ("model", "covered", "missing", "RMS", "mean", "max|d|", "note"):
        table.add_column(col, justify="left" if col in ("model", "note") else "right")
    for r in report["models"]:
        table.add_row(r["label"], str(r["covered"]), str(r["missing"]), _fmt(r["rms_mev"]),
                      _fmt(r["mean_mev"]), _fmt(r["max_abs_mev"]), r["note"])
    out.print(table)
    out.print("d = ME(model) - ME(AME2020) in MeV. Not bundled: HFB-31, Bhagwat 2014.")


def main() -> None:
    """Entry point of the ``kansym`` console script."""
    app()
