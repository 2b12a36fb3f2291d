"""Parse the bundled AME and theory mass tables into tidy pandas frames.

All energies are in MeV. Mass excesses are *atomic* mass excesses, ME = M_atomic - A u.
Binding energy follows the AME convention, BE(Z, N) = Z ME(1H) + N ME(n) - ME(Z, N).
See ``kansym/data/tables/SOURCES.md`` for provenance and formats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Callable

import numpy as np
import pandas as pd

from kansym.errors import KansymError

TABLE_DIR = Path(str(resources.files("kansym") / "data" / "tables"))


@dataclass(frozen=True)
class AmeEdition:
    """Layout of one Atomic Mass Evaluation file (slices are 0-based character ranges)."""

    name: str
    file: str
    header_lines: int
    me_slice: tuple[int, int]
    dme_slice: tuple[int, int]
    me_h_kev: float  # atomic mass excess of 1H [keV]
    me_n_kev: float  # mass excess of the neutron [keV]
    reference: str


AME_EDITIONS = MappingProxyType({
    "ame2020": AmeEdition("AME2020", "mass_1.mas20.txt", 36, (28, 42), (42, 54),
                          7288.971064, 8071.31806,
                          "M. Wang et al., Chin. Phys. C 45, 030003 (2021)"),
    "ame2016": AmeEdition("AME2016", "mass16.txt", 39, (28, 41), (41, 52),
                          7288.97061, 8071.31713,
                          "M. Wang et al., Chin. Phys. C 41, 030003 (2017)"),
})


def _table_path(file: str) -> Path:
    return TABLE_DIR / file


def _read_lines(path: Path) -> list[str]:
    try:
        # latin-1 never fails to decode; universal newlines handle the CR-only DUZU.txt
        with open(path, encoding="latin-1") as fh:
            return fh.read().splitlines()
    except OSError as exc:
        raise KansymError(f"cannot read mass table {path}: {exc.strerror}") from None


def _parse_rows(path: Path, parse_line: Callable[[str], tuple | None], skip: int = 0,
                columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Apply ``parse_line`` to every line after ``skip``; a failure names the file and line."""
    rows = []
    for number, line in enumerate(_read_lines(path), start=1):
        if number <= skip or not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = parse_line(line)
        except (ValueError, IndexError) as exc:
            raise KansymError(f"{path.name} line {number}: cannot parse {line.strip()!r} ({exc})") from None
        if row is not None:
            rows.append(row)
    if not rows:
        raise KansymError(f"{path.name}: no data rows found")
    return pd.DataFrame.from_records(rows, columns=list(columns))


def _ame_number(field: str) -> tuple[float, bool]:
    """An AME numeric field in keV; '#' in place of the decimal point marks an estimated value."""
    estimated = "#" in field
    text = field.replace("#", ".").strip()
    if not text:
        raise ValueError("empty numeric field")
    return float(text), estimated


def parse_ame(path: Path, edition: AmeEdition) -> pd.DataFrame:
    """Parse an AME mass table (fixed width) into Z, N, A, element, ME, dME, BE, estimated."""
    me0, me1 = edition.me_slice
    d0, d1 = edition.dme_slice

    def parse(line: str):
        n, z, a = int(line[4:9]), int(line[9:14]), int(line[14:19])
        if n + z != a:
            raise ValueError(f"N + Z = {n + z} != A = {a}")
        me, est = _ame_number(line[me0:me1])
        dme, dest = _ame_number(line[d0:d1])
        return z, n, a, line[20:23].strip(), me, dme, est or dest

    df = _parse_rows(path, parse, skip=edition.header_lines,
                     columns=("Z", "N", "A", "element", "ME_keV", "dME_keV", "estimated"))
    if df.duplicated(["Z", "N"]).any():
        raise KansymError(f"{path.name}: duplicate (Z, N) rows")
    out = df[["Z", "N", "A", "element"]].copy()
    out["ME"] = df["ME_keV"] / 1000.0
    out["dME"] = df["dME_keV"] / 1000.0
    out["BE"] = (df["Z"] * edition.me_h_kev + df["N"] * edition.me_n_kev - df["ME_keV"]) / 1000.0
    out["estimated"] = df["estimated"].astype(bool)
    return out


@lru_cache(maxsize=None)
def _experiment_cached(edition: str) -> pd.DataFrame:
    ed = AME_EDITIONS[edition]
    return parse_ame(_table_path(ed.file), ed)


def load_experiment(edition: str = "ame2020") -> pd.DataFrame:
    """The AME table of ``edition`` ('ame2020' or 'ame2016'): one row per nuclide, energies in MeV."""
    if edition not in AME_EDITIONS:
        raise KansymError(f"unknown AME edition {edition!r}; valid choices: {', '.join(AME_EDITIONS)}")
    return _experiment_cached(edition).copy()


# --------------------------------------------------------------------------- theory tables

def _fixed(z: slice, a: slice, me: slice):
    """Parser for RIPL-4 style fixed-width rows (Z, A, ME in MeV); rows without ME are skipped."""
    def parse(line: str):
        field = line[me].strip()
        if not field:
            return None
        zz, aa = int(line[z]), int(line[a])
        return zz, aa - zz, float(field)
    return parse


def _columns(z: int, second: int, me: int, second_is_a: bool):
    """Parser for whitespace-separated rows; ``second`` is the column of N (or of A)."""
    def parse(line: str):
        parts = line.split()
        zz, other = int(parts[z]), int(parts[second])
        return zz, (other - zz) if second_is_a else other, float(parts[me])
    return parse


@dataclass(frozen=True)
class MassModel:
    """A theoretical mass table: name, display label, bundled file and how to read it."""

    name: str
    label: str
    file: str
    reference: str
    skip: int
    parse: Callable[[str], tuple | None]
    note: str = ""


MODELS = MappingProxyType({m.name: m for m in (
    MassModel("ws4", "WS4", "WS4_RBF.txt",
              "N. Wang, M. Liu, X. Wu, J. Meng, Phys. Lett. B 734, 215 (2014)", 15,
              _columns(z=1, second=0, me=2, second_is_a=True)),
    MassModel("ws4rbf", "WS4+RBF", "WS4_RBF.txt",
              "N. Wang, M. Liu, Phys. Rev. C 84, 051303(R) (2011); WS4 as above", 15,
              _columns(z=1, second=0, me=3, second_is_a=True),
              note="RBF fitted to AME2012"),
    MassModel("dz28", "DZ28", "DUZU.txt",
              "J. Duflo, A.P. Zuker, Phys. Rev. C 52, R23 (1995)", 1,
              _columns(z=0, second=1, me=2, second_is_a=False)),
    MassModel("frdm12", "FRDM2012", "mass-frdm12.dat",
              "P. Moller et al., At. Data Nucl. Data Tables 109-110, 1 (2016)", 0,
              _fixed(slice(0, 4), slice(4, 8), slice(33, 43))),
    MassModel("ktuy05", "KTUY05", "KTUY05_m246.dat",
              "H. Koura et al., Prog. Theor. Phys. 113, 305 (2005)", 0,
              _columns(z=0, second=1, me=2, second_is_a=False)),
    MassModel("hfb27", "HFB-27", "mass-hfb27.dat",
              "S. Goriely, N. Chamel, J.M. Pearson, Phys. Rev. C 88, 061302(R) (2013)", 0,
              _fixed(slice(0, 4), slice(4, 8), slice(33, 43)),
              note="not HFB-31"),
    MassModel("dz10", "DZ10", "du_zu_10.feb96.from_o2scl.txt",
              "J. Duflo, A.P. Zuker, Phys. Rev. C 52, R23 (1995); 10-parameter version", 0,
              _columns(z=0, second=1, me=2, second_is_a=True)),
)})

UNAVAILABLE_MODELS = MappingProxyType({
    "hfb31": "HFB-31 (Goriely, Chamel, Pearson, PRC 93, 034337 (2016)) is not bundled: its table could not be "
             "obtained. HFB-27 is available as 'hfb27' and is a different model.",
    "bhagwat14": "Bhagwat 2014 (A. Bhagwat, PRC 90, 064306 (2014)) is not bundled: its table exists only as "
                 "journal supplemental material.",
})

#: models compared in the KAN-WS4 paper (HFB-27 stands in for its HFB-31 row only as a separate model)
PAPER_MODELS = ("ws4", "dz28", "frdm12", "ktuy05", "hfb27")


def check_model(name: str) -> MassModel:
    """The registry entry for ``name``; unknown or unavailable models raise a KansymError."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"frdm2012": "frdm12", "frdm": "frdm12", "ktuy": "ktuy05", "bhagwat": "bhagwat14",
               "bhagwat2014": "bhagwat14", "hfb": "hfb27"}
    key = aliases.get(key, key)
    if key in UNAVAILABLE_MODELS:
        raise KansymError(f"mass model {name!r} is not available: {UNAVAILABLE_MODELS[key]}")
    if key not in MODELS:
        raise KansymError(f"unknown mass model {name!r}; valid choices: {', '.join(MODELS)}")
    return MODELS[key]


def parse_model(path: Path, model: MassModel) -> pd.DataFrame:
    """Parse a theory table file in the layout of ``model``: columns Z, N, ME_model [MeV]."""
    df = _parse_rows(path, model.parse, skip=model.skip, columns=("Z", "N", "ME_model"))
    if df.duplicated(["Z", "N"]).any():
        raise KansymError(f"{path.name}: duplicate (Z, N) rows")
    return df.astype({"Z": np.int64, "N": np.int64, "ME_model": np.float64})


@lru_cache(maxsize=None)
def _model_cached(name: str) -> pd.DataFrame:
    return parse_model(_table_path(MODELS[name].file), MODELS[name])


def load_model(name: str) -> pd.DataFrame:
    """Atomic mass excess [MeV] of a theory model: columns Z, N, ME_model."""
    return _model_cached(check_model(name).name).copy()


def table_files() -> list[str]:
    """Names of all bundled table files (experiment and theory)."""
    names = {ed.file for ed in AME_EDITIONS.values()} | {m.file for m in MODELS.values()}
    return sorted(names)


@lru_cache(maxsize=None)
def file_sha256(file: str) -> str:
    """SHA-256 of a bundled table file, for provenance records."""
    return hashlib.sha256(_table_path(file).read_bytes()).hexdigest()


def data_hashes() -> dict[str, str]:
    """SHA-256 of every bundled table file."""
    return {f: file_sha256(f) for f in table_files()}
