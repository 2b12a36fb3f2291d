"""LaTeX and JSON export of formulas: a SymPy LaTeX printer, PDG rounding, and registry entries."""

from __future__ import annotations

import re

import numpy as np
import sympy as sp

from kansym.nuclear import tables
from kansym.errors import KansymError
from kansym.nuclear.targets import TARGET_KINDS
from kansym.report.figures import new_figure
from kansym.report.notation import display
from kansym.symbolic.formula import ENTRY_FORMAT, Formula, entry_notation, formula_from_entry, parameter_unit
from kansym.symbolic.latex import (NOTATION, NOTATIONS, _table_format, equation_lines, shorthand, tex_escape,
                                   tex_value, to_latex)


def parameter_rows(formula: Formula, init: bool = True) -> list[dict]:
    """Plain rows for a parameter table (``init``: with the value each refit started from)."""
    rows = []
    for p, flag in zip(formula.parameters, formula.flags()):
        rows.append({"name": p.name, "value": p.value, "stderr": p.stderr, "relative_uncertainty": p.relative_uncertainty,
                     "init": p.init, "shorthand": shorthand(p.value, p.stderr), "unit": parameter_unit(formula, p.name),
                     "flag": flag})
        if not init:
            del rows[-1]["init"]
    return rows


def _tex_symbol(name: str) -> str:
    base, _, sub = name.partition("_")
    return f"{base}_{{{sub}}}" if sub else base




def describe_fit(context: dict, metrics: dict) -> str:
    """What a formula was fitted to, for a caption: text from the entry escaped, numbers only as numbers
    formatted here (a field of the wrong type is an error naming it)."""

    model, target = (v if isinstance(v, str) else None for v in (context.get("model"), context.get("target")))
    model = tables.MODELS[model].label if model in tables.MODELS else (model or "model")
    what = TARGET_KINDS[target].text("fitted_to", tex_escape(model)) if target in TARGET_KINDS else "the target"
    sel = context.get("selection") or {}
    if not isinstance(sel, dict):
        raise KansymError(f"formula entry field 'selection' must be an object, got {type(sel).__name__}")
    parts = []
    if sel:
        min_z, min_n = (_whole(sel.get(k), f"selection.{k}") for k in ("min_z", "min_n"))
        cut = sel.get("max_unc")
        if cut is not None:
            cut = _real(cut, "selection.max_unc")
        parts = [f"{tex_escape(sel.get('subset', ''))} nuclei with $Z \\ge {min_z}$, $N \\ge {min_n}$",
                 "no cut on the mass uncertainty" if cut is None else f"mass uncertainty at most \\SI{{{cut:g}}}{{\\MeV}}"]
    rm = metrics.get("rmse_mev", {}) if isinstance(metrics, dict) else {}
    rms_text = ", ".join(f"{tex_escape(k)} \\SI{{{v:.3f}}}{{\\MeV}}" for k, v in (rm.items() if isinstance(rm, dict) else ())
                         if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v))
    return (f"Fitted to {what}" + (f" of {', '.join(parts)}" if parts else "")
            + (f" (split {tex_escape(context['split'])})" if context.get("split") else "")
            + (f"; RMSE {rms_text}" if rms_text else "") + ".")


def _whole(value, field: str) -> int:
    """An integer field of a formula entry (booleans and text refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 10_000:
        raise KansymError(f"formula entry field {field!r} must be a whole number, got {str(value)[:40]!r}")
    return value


def _real(value, field: str) -> float:
    """A finite number field of a formula entry (booleans and text refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise KansymError(f"formula entry field {field!r} must be a finite number, got {str(value)[:40]!r}")
    return float(value)


_MARKS = ("*", "\\dagger", "\\ddagger", "\\S", "\\P", "**", "\\dagger\\dagger", "\\ddagger\\ddagger")


def formula_tex(formula: Formula, lhs: str, metrics: dict, caption: str = "", label: str = "kansym",
                context: dict | None = None, notation: str | None = NOTATION, correlations: bool = False) -> str:
    """A LaTeX snippet: the equation (cut into lines that fit a two-column page), and a booktabs table of
    its constants in siunitx ``S`` columns with units, labelled ``eq:LABEL`` / ``tab:LABEL``; with
    ``correlations`` also the lower triangle of their correlation matrix (``tab:LABEL-corr``). ``notation``
    :data:`NOTATION`: liquid-drop terms first, textbook signs for B, A for N + Z, symbols defined in the caption
    (:mod:`kansym.report.notation`); None: SymPy's order and the fitted signs (entries written before)."""
    label = re.sub(r"[^A-Za-z0-9_.:-]", "-", label)
    d = display(formula, binding_energy=lhs == "B", by_family=notation == NOTATION) if notation in NOTATIONS else None
    if d is None:
        lines = equation_lines(formula.expr, lhs)
        order = [p.name for p in formula.parameters]
        names, signs, defined = {n: n for n in order}, {n: 1 for n in order}, ()
    else:
        lines = equation_lines(formula.expr, lhs, terms=list(d.terms), leading=d.leading,
                               settings={"fold_frac_powers": True, "root_notation": False})
        order, names, signs, defined = list(d.order), d.names, d.signs, d.defined
    if len(lines) == 1:
        eq = ["\\begin{equation}", f"  {lines[0]}", f"  \\label{{eq:{label}}}", "\\end{equation}"]
    else:
        eq = ["\\begin{multline}", *[f"  {ln} \\\\" for ln in lines[:-1]], f"  {lines[-1]}",
              f"  \\label{{eq:{label}}}", "\\end{multline}"]
    rows, fmt, note_text = _constant_rows(formula, order, names, signs, physics=d is not None)
    conventions = ""
    if d is not None:
        flipped = [names[n] for n in order if signs[n] == -1]
        conventions = ((" Here " + "; ".join(defined) + ".") if defined else "") + (
            f" Liquid-drop terms with their textbook signs ({', '.join(f'${_tex_symbol(n)}$' for n in flipped)} "
            "enter with a minus sign), so that physical values are positive." if flipped else "")
        renamed = sorted(n for n in order if names[n] != n)
        if renamed and notation == NOTATION:  # notation 2 says so (notation 1's snippets stay as written)
            conventions += (" Constants $c_k$ numbered in the order shown (formula.json keeps the search's names: "
                            + ", ".join(f"${_tex_symbol(names[n])}$ is ${_tex_symbol(n)}$" for n in renamed[:8])
                            + ("" if len(renamed) <= 8 else ", ...") + ").")
    cap = caption or (f"Constants of Eq.~(\\ref{{eq:{label}}}), {formula.n_constants} in all. "
                      + describe_fit(context or {}, metrics) + conventions
                      + " Standard errors in the last digits in parentheses; -- marks a dimensionless constant."
                      + note_text)
    table = [f"\\begin{{table}}[{'h' if d is None else 'tbp'}]", "  \\centering", f"  \\caption{{{cap}}}",
             f"  \\label{{tab:{label}}}", f"  \\begin{{tabular}}{{l S[table-format={fmt}] c}}", "    \\toprule",
             "    Constant & {Value} & Unit \\\\", "    \\midrule", *rows, "    \\bottomrule", "  \\end{tabular}",
             "\\end{table}"]
    if correlations and formula.correlations:
        table += _correlation_table(formula, order, names, signs, label)
    return "\n".join(["% kansym formula; needs \\usepackage{amsmath,booktabs,siunitx}", *eq, *table, ""])


def _constant_rows(formula: Formula, order, names, signs, physics: bool) -> tuple[list[str], str, str]:
    """(table rows, siunitx table-format, caption notes) of the constants shown in ``order`` under their shown
    names and signs; notes (undetermined errors, near-degenerate pairs) marked a, b, ... or, in the physicist's
    notation, *, dagger, ... (marks that do not read as exponents)."""
    rename = (lambda text: re.sub(r"\b[ac]_\w+\b", lambda m: names.get(m.group(0), m.group(0)), text))
    by_name = {p["name"]: p for p in parameter_rows(formula)}
    params = [{**by_name[n], "name": names[n], "shorthand": shorthand(signs[n] * by_name[n]["value"],
                                                                     by_name[n]["stderr"]),
               "flag": rename(by_name[n]["flag"])} for n in order]
    notes = list(dict.fromkeys(p["flag"] for p in params if p["flag"]))  # each distinct note once, marked
    if not physics:
        mark = {n: "abcdefghijklmnopqrstuvwxyz"[k % 26] for k, n in enumerate(notes)}
        tag = {n: f"\\textsuperscript{{{m}}}" for n, m in mark.items()}
        note_text = "".join(f" ({mark[n]}) {tex_escape(n)}." for n in notes)
    else:
        mark = {n: _MARKS[k % len(_MARKS)] for k, n in enumerate(notes)}
        tag = {n: f"${{}}^{{{m}}}$" for n, m in mark.items()}
        note_text = "".join(f" ${{}}^{{{mark[n]}}}${_tex_note(n)}." for n in notes)
    rows = []
    for p in params:
        name = f"${_tex_symbol(p['name'])}$" + (tag[p["flag"]] if p["flag"] else "")
        unit = "\\si{\\MeV}" if p["unit"] == "MeV" else "--"
        rows.append(f"    {name} & {tex_value(p['shorthand'])} & {unit} \\\\")
    return rows, _table_format([tex_value(p["shorthand"]) for p in params]), note_text


def _tex_note(note: str) -> str:
    """A note of the parameter table in LaTeX: constant names in mathematics (a_S as $a_{S}$), the rest escaped."""
    def plain(text: str) -> str:
        parts = re.split(r"\b([acw]_\w+)\b", text)
        return "".join(f"${_tex_symbol(x)}$" if k % 2 else tex_escape(x) for k, x in enumerate(parts))
    return "$|\\rho| >$ ".join(plain(part) for part in note.split("|corr| > "))


def _correlation_table(formula: Formula, order, names, signs, label: str) -> list[str]:
    """The lower triangle of the constants' correlation matrix (of the shown constants: signs applied), two
    decimals, as a table labelled ``tab:LABEL-corr``; undetermined entries as --."""
    index = {p.name: k for k, p in enumerate(formula.parameters)}
    n = len(order)
    rows = []
    for i, a in enumerate(order):
        cells = []
        for j, b in enumerate(order[:i + 1]):
            r = formula.correlations[index[a]][index[b]]
            r = signs[a] * signs[b] * r if r is not None and np.isfinite(r) else None
            cells.append("1" if i == j else ("--" if r is None else f"{r:.2f}"))
        rows.append(f"    ${_tex_symbol(names[a])}$ & " + " & ".join(cells + [""] * (n - i - 1)) + " \\\\")
    head = " & ".join(f"${_tex_symbol(names[a])}$" for a in order)
    return [
        "\\begin{table*}[tbp]",
        "  \\centering",
        f"  \\caption{{Correlation coefficients of the constants of Eq.~(\\ref{{eq:{label}}}) (lower triangle).}}",
        f"  \\label{{tab:{label}-corr}}",
        "  \\footnotesize",
        "  \\setlength{\\tabcolsep}{3pt}",
        f"  \\begin{{tabular}}{{l{'r' * n}}}",
        "    \\toprule",
        f"    & {head} \\\\",
        "    \\midrule",
        *rows,
        "    \\bottomrule",
        "  \\end{tabular}",
        "\\end{table*}",
    ]


def entry_tex(entry: dict, label: str, lhs: str) -> str:
    """The LaTeX snippet of a registry entry or run ``formula.json`` (as written beside it, in its notation)."""
    return formula_tex(formula_from_entry(entry), lhs, entry.get("metrics", {}), label=label, context=entry,
                       notation=entry_notation(entry))


def standalone_document(snippet: str, two_column: bool = False, revtex: bool = False) -> str:
    """Wrap a snippet into a compilable document (``two_column``: the layout of a journal page; ``revtex``:
    revtex4-2's Physical Review C reprint layout, two columns, instead of article)."""
    if revtex:
        cls = "\\documentclass[reprint,prc]{revtex4-2}"
    else:
        cls = "\\documentclass[twocolumn]{article}" if two_column else "\\documentclass{article}"
    return (f"{cls}\n\\usepackage{{amsmath,booktabs,siunitx}}\n\\begin{{document}}\n"
            f"{snippet}\n\\end{{document}}\n")


def formula_entry(formula: Formula, metrics: dict, context: dict, init: bool = True) -> dict:
    """The JSON registry entry: srepr, LaTeX, parameters (``init``: with the values their refit started from),
    metrics, and provenance ``context``."""
    return {
        "format": ENTRY_FORMAT,
        "srepr": sp.srepr(formula.expr),
        "latex": to_latex(formula.expr),
        "text": str(formula.expr),
        "variables": list(formula.variables),
        "parameters": parameter_rows(formula, init),
        "correlations": [list(r) for r in formula.correlations],
        "units": {"output": "MeV", "parameters": "MeV per unit of the variables' powers"},
        "n_constants": formula.n_constants,
        "metrics": metrics,
        "notation": NOTATION,
        **context,
    }


FIGURE_LINE = 600  # characters of mathtext source beyond which formula.png shows the equation on several lines


def formula_figure(formula: Formula, lhs: str):
    """The equation rendered with matplotlib mathtext (plain text if mathtext cannot parse it), as a figure
    (save it with ``bbox_inches="tight"``)."""

    tex = f"${lhs} = {to_latex(formula.expr, precision=4)}$"
    lines = [tex] if len(tex) <= FIGURE_LINE else [f"${ln}$" for ln in equation_lines(formula.expr, lhs,
                                                                                       budget=FIGURE_LINE // 5)]
    width = max(len(ln) for ln in lines)
    fig = new_figure(figsize=(min(2 + 0.09 * width, 30), 1.2 if len(lines) == 1 else 0.45 * len(lines)))
    try:
        for k, line in enumerate(lines):  # a long sum is cut into lines between its terms, as in formula.tex
            fig.text(0.01, 1 - (k + 0.5) / len(lines), line, fontsize=14, va="center")
        fig.draw_without_rendering()  # mathtext parses the text here: an error surfaces now, not when saved
    except (ValueError, RuntimeError):
        fig.clf()
        fig.text(0.01, 0.5, f"{lhs} = {formula.expr}", fontsize=10, va="center", family="monospace")
    return fig

