"""User-facing errors: the CLI turns these into a message and exit code 2."""


class KansymError(ValueError):
    """A mistake in user input or data that the user can fix; never a bug. A ``ValueError``, as scikit-learn
    and NumPy raise for a bad argument value, so that ``except ValueError`` in a caller's code catches it."""


def choose(kind: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a KansymError listing them."""
    choices = list(choices)
    if value not in choices:
        raise KansymError(f"unknown {kind} {value!r}; valid choices: {', '.join(choices)}")
    return value


_KINDS = {"c": "complex numbers", "b": "booleans", "M": "dates", "m": "time spans", "U": "text", "S": "bytes",
          "O": "Python objects (text or mixed types)", "V": "raw records"}


def real_numbers(kind: str, what: str) -> None:
    """Refuse data of NumPy kind ``kind`` (a dtype's ``kind``; pandas' extension types give theirs, text 'O')
    unless it holds real numbers (integers or floats)."""
    if kind not in "iuf" or not kind:
        raise KansymError(f"{what} must hold real numbers, not {_KINDS.get(kind, 'values of kind ' + repr(kind))}")


def unmasked(values, what: str):
    """``values`` as given, or the data of a NumPy masked array that masks nothing; a masked array that masks
    entries is refused (its masked values would be read as if they were data)."""
    import numpy as np

    if not isinstance(values, np.ma.MaskedArray):
        return values
    hidden = int(np.ma.getmaskarray(values).sum())
    if hidden:
        raise KansymError(f"{what} is a masked array with {hidden} masked entries, whose values would be read as data: "
                          "drop those rows, or fill them (e.g. .filled(np.nan)) where NaN is meant")
    return np.asarray(values.data)
