"""The formula registry's writer: ``NAME.json`` and ``NAME.tex`` made in memory and put in place together."""

from __future__ import annotations

from pathlib import Path

from kansym.errors import KansymError
from kansym.report.export import formula_entry, formula_tex
from kansym.runs.store import write_files_together
from kansym.safeio import json_text
from kansym.symbolic.formula import Formula


def write_formula(directory: Path, name: str, formula: Formula, metrics: dict, context: dict, lhs: str,
                  force: bool = False, label: str | None = None, init: bool = True,
                  correlations: bool = False) -> tuple[Path, Path]:
    """Write ``name.json`` and ``name.tex`` into ``directory`` together (both or neither; refuse to overwrite
    unless ``force``). Both texts are made in memory first: an entry that cannot be written leaves nothing."""
    directory = Path(directory)
    js, tex = directory / f"{name}.json", directory / f"{name}.tex"
    exists = KansymError(f"formula {name!r} already exists in {directory}; use --force to overwrite it")
    try:
        texts = {js: json_text(formula_entry(formula, metrics, context, init)) + "\n",
                 tex: formula_tex(formula, lhs, metrics, label=label or name, context=context,
                                  correlations=correlations)}
    except KansymError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise KansymError(f"formula {name!r} cannot be written: {type(exc).__name__}: {str(exc)[:120]}") from None
    try:
        write_files_together(texts, exclusive=not force, exists_error=exists)
    except OSError as exc:
        raise KansymError(f"cannot write formula {name!r} to {directory}: {exc.strerror or exc}") from None
    return js, tex
