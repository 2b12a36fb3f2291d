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
