"""The Duflo-Zuker 10-parameter reference formula: the published constants against the bundled DZ10 table, and
the refit recovering planted constants."""

import numpy as np
import pytest

import kansym
from kansym.errors import KansymError
from kansym.symbolic import duflo_zuker as dz


@pytest.fixture(scope="module")
def even_even():
    return kansym.nuclei("even-even", min_z=30, min_n=30, max_unc=None, models=("dz10",))


def test_published_constants_give_the_bundled_table(even_even):
    """B = 7.28903 Z + 8.07138 N - ME(DZ10): the table's binding energies, to the precision of the single-precision
    routine that wrote it (RMS 0.055 MeV over these 538 nuclei), and the same accuracy against AME2020."""
    z, n = even_even["Z"].to_numpy(), even_even["N"].to_numpy()
    mine = dz.binding_energy(z, n)
    table = 7.28903 * z + 8.07138 * n - even_even["ME_dz10"].to_numpy()
    assert np.sqrt(np.mean((mine - table) ** 2)) < 0.08
    be = even_even["BE"].to_numpy()
    assert np.sqrt(np.mean((mine - be) ** 2)) == pytest.approx(np.sqrt(np.mean((table - be) ** 2)), abs=0.02)


def test_refit_recovers_planted_constants(even_even):
    """Binding energies from constants 5 % off the published ones plus 0.3 MeV noise: the refit finds them within
    3 standard errors, on the real even-even grid."""
    z, n = even_even["Z"].to_numpy(), even_even["N"].to_numpy()
    planted = np.asarray(dz.PUBLISHED) * 1.05
    rng = np.random.default_rng(0)
    be = dz.binding_energy(z, n, planted) + rng.normal(0, 0.3, len(z))
    b, err, corr = dz.refit(z, n, be)
    assert np.all(np.abs(b - planted) < 3 * err + 1e-9), (b, planted, err)
    assert np.allclose(np.diag(corr), 1) and np.all(np.abs(corr) <= 1 + 1e-9)


def test_bad_nuclei_are_refused():
    with pytest.raises(KansymError, match="whole numbers"):
        dz.terms([50.5], [70])
    with pytest.raises(KansymError, match="whole numbers"):
        dz.terms([0], [70])
