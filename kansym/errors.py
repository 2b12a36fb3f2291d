"""User-facing errors: the CLI turns these into a message and exit code 2."""


class KansymError(Exception):
    """A mistake in user input or data that the user can fix; never a bug."""


def choose(kind: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a KansymError listing them."""
    choices = list(choices)
    if value not in choices:
        raise KansymError(f"unknown {kind} {value!r}; valid choices: {', '.join(choices)}")
    return value
