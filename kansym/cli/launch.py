"""The console script: SIGINT and SIGTERM handled before the command's libraries load, so that an interrupt in
the first moments is one line and exit code 130 like any other, not a traceback from inside an import."""

from __future__ import annotations

import sys

from kansym.cli import streams


def main() -> None:
    streams.terminate_as_interrupt()
    try:
        from kansym.cli.commands import main as run
    except BaseException as exc:  # an import cut short by the interrupt fails in its own way
        if isinstance(exc, KeyboardInterrupt) or streams.INTERRUPT["received"]:
            try:
                sys.stderr.write("Interrupted\n")
            except OSError:
                pass
            raise SystemExit(130) from None
        raise
    try:
        run()
    except KeyboardInterrupt:  # landed after the command's own handling (its output is then complete)
        try:
            sys.stderr.write("Interrupted\n")
        except OSError:
            pass
        raise SystemExit(130) from None
    finally:  # the command has ended and said so: a signal during the interpreter's shutdown changes nothing
        streams.ignore_signals()
