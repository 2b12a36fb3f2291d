"""What a physicist reads: parameter tables with PDG rounding, LaTeX snippets and registry entries, and figures."""

from kansym.report.export import (
    describe_fit,
    formula_entry,
    formula_tex,
    parameter_rows,
    pdg_round,
    shorthand,
    write_formula,
)
from kansym.report.figures import candidates_plot, chain_figure, edge_plots, far_map, network_diagram, nz_chart

__all__ = [
    "candidates_plot", "chain_figure", "describe_fit", "edge_plots", "far_map", "formula_entry", "formula_tex",
    "network_diagram", "nz_chart", "parameter_rows", "pdg_round", "shorthand", "write_formula",
]
