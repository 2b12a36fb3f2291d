"""Hostile formula texts: read as data, never run, never hang; each is a one-line message (exit 2 in the CLI)."""

import json
import shutil
import time
from pathlib import Path

import pytest
import sympy as sp
from typer.testing import CliRunner

from kansym.cli import app
from kansym.errors import KansymError
from kansym.exprparse import parse_equation
from kansym.srepr_reader import parse_srepr

runner = CliRunner()
SHELL = '__import__("os").system("touch pwned")'

SREPR_PAYLOADS = {
    "string concatenation evaluated by SymPy": "exp('_'+'_imp'+'ort_'+'_(\"os\").system(\"touch pwned\")')",
    "code string inside a zero product": f"Mul(Integer(0), exp('{SHELL}'))",
    "bare import call": SHELL,
    "lambda": "lambda: 0",
    "attribute access": "Mul(Symbol('Z'), Symbol('Z')).__class__",
    "keyword with code": "Symbol('Z', real=__import__)",
    "symbol name with shell text": "Symbol('Z; rm -rf /')",
    "unknown constructor": "Function('f')(Symbol('Z'))",
    "star arguments": "Add(*[Symbol('Z')]*10**8)",
    "exponent tower": "Pow(Integer(9), Pow(Integer(9), Integer(9)))",
    "huge numeric power": "Pow(Integer(" + "9" * 30 + "), Integer(64))",
    "4000-digit integer": "Integer(" + "9" * 4000 + ")",
    "400 levels deep": "Add(" * 400 + "Symbol('Z')" + ")" * 400,
    "division by zero": "Mul(Symbol('Z'), Pow(Integer(0), Integer(-1)))",
    "NaN float": "Float('nan', precision=53)",
    "infinite float": "Float('inf', precision=53)",
    "Rational over zero": "Rational(1, 0)",
    "empty": "",
    "not text": 12,
    "unbalanced": "Add(Symbol('Z'), Symbol('N')",
    "trailing text": "Symbol('Z') Symbol('N')",
    "bare unknown name": "zoo",
    "too long": "Add(" + ", ".join(["Symbol('Z')"] * 30_000) + ")",
}


@pytest.mark.parametrize("name", list(SREPR_PAYLOADS))
def test_hostile_srepr_is_refused_quickly_and_runs_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(KansymError) as err:
        parse_srepr(SREPR_PAYLOADS[name], where="formula.json")
    assert time.perf_counter() - t0 < 5
    assert "\n" not in str(err.value) and str(err.value).startswith("formula.json")
    assert not any(tmp_path.iterdir())  # nothing executed, nothing written


EQUATION_PAYLOADS = {
    "tower with ^": "9^9^9",
    "tower with **": "9**9**9",
    "tower through pow()": "pow(Z,pow(9,pow(9,9)))",
    "400 parentheses": "(" * 400 + "Z" + ")" * 400,
    "500 signs": "-" * 500 + "Z",
    "division by zero": "Z/0",
    "exponent 1/0": "Z^(1/0)",
    "one-megabyte line": "Z+" * 500_000 + "Z",
    "unknown function": "__import__(Z)",
    "non-ASCII": "Z \u00d7 N",
    "two arguments to sqrt": "sqrt(Z, N)",
}


@pytest.mark.parametrize("name", list(EQUATION_PAYLOADS))
def test_hostile_equation_is_refused_quickly(name):
    variables = {"Z": sp.Symbol("Z"), "N": sp.Symbol("N")}
    t0 = time.perf_counter()
    with pytest.raises(KansymError):
        parse_equation(EQUATION_PAYLOADS[name], variables)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("entry", sorted(Path(__file__).resolve().parents[1].glob("formulas/*.json")),
                         ids=lambda p: p.stem)
def test_registry_formulas_read_back_exactly(entry):
    text = json.loads(entry.read_text())["srepr"]
    assert sp.srepr(parse_srepr(text)) == text


def test_srepr_reader_accepts_what_kansym_writes():
    Z, N, c = sp.symbols("Z N c_1", real=True)
    expr = (sp.Float(0.5) * Z + sp.Rational(2, 3) * sp.sqrt(N) - sp.exp(c * Z) + sp.Abs(N - Z) ** sp.Rational(1, 3)
            * sp.sign(N - Z) + sp.log(Z) * sp.sin(N) + sp.cos(Z) + sp.tanh(N) + sp.E * Z + sp.pi + Z ** c)
    assert parse_srepr(sp.srepr(expr)) == expr


def test_cli_export_of_a_hostile_formula_file_runs_nothing(formula_run, tmp_path, monkeypatch):
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    entry = json.loads((run / "formula.json").read_text())
    entry["srepr"] = SREPR_PAYLOADS["code string inside a zero product"]
    (run / "formula.json").write_text(json.dumps(entry))
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["export", str(run), "--name", "evil", "--registry", str(tmp_path / "registry")])
    assert r.exit_code == 2 and "exp needs expressions as arguments" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "registry").exists()


def test_formula_entry_with_unknown_symbols_is_refused(formula_run):
    from kansym.export import formula_from_entry

    entry = json.loads((formula_run.run_dir / "formula.json").read_text())
    entry["srepr"] = "Mul(Symbol('Z', real=True), Symbol('secret', real=True))"
    with pytest.raises(KansymError, match="secret"):
        formula_from_entry(entry)
    with pytest.raises(KansymError, match="JSON object"):
        formula_from_entry([entry])
