"""The process's standard streams for the ``kansym`` command: closed ones replaced, library chatter on file
descriptor 1 routed to stderr, a stdout that cannot be written silenced before the interpreter's last flush."""

from __future__ import annotations

import atexit
import math
import os
import sys
import time


def reopen_closed() -> list[str]:
    """Names of the standard streams the process started without (``>&-``), each now writing to the null
    device so that imports and messages cannot fail on them."""
    closed = [name for name in ("stdout", "stderr") if getattr(sys, name) is None]
    for name in closed:
        setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115  (lives as long as the process)
    return closed


def route_native_stdout() -> None:
    """Keep library chatter out of the results: C and Fortran code (LAPACK's '** On entry to DLASCL ...')
    writes to file descriptor 1 directly, so descriptor 1 is pointed at stderr and Python's ``sys.stdout``
    gets a private descriptor of the real standard output, which then carries kansym's results only (a
    ``--json`` output is JSON and nothing else)."""
    try:
        sys.stdout.flush()
        real = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        return
    # a non-UTF-8 terminal (PYTHONIOENCODING=ascii) shows other characters escaped instead of failing
    sys.stdout = open(real, "w", encoding=sys.stdout.encoding or "utf-8",  # noqa: SIM115  (the process's stdout)
                      errors="backslashreplace")
    try:
        sys.stderr.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass


INTERRUPT = {"received": False, "reported": False, "raised_at": -math.inf}
"""Whether SIGINT or SIGTERM arrived, whether a command has said so already (``main`` says it otherwise), and when
(``time.monotonic``) the last KeyboardInterrupt was raised for one."""

BURST_S = 0.5
"""Signals closer than this [s] to the last one raised (Ctrl-C pressed twice, SIGINT then SIGTERM) are remembered,
not raised again: a second KeyboardInterrupt inside the first one's handling would be printed as a traceback."""


def terminate_as_interrupt() -> None:
    """SIGTERM (what ``timeout`` and schedulers send) ends a command like Ctrl-C: partial output is named or
    removed by the same code. Both signals are remembered, so that an error they cause inside a library (an
    import cut short) is reported as the interrupt it is; a KeyboardInterrupt Python cannot raise where it lands
    (in a garbage-collector callback) is not printed: the next step or the command's end reports it."""
    import signal

    def interrupt(signum, frame):
        INTERRUPT["received"] = True
        now = time.monotonic()
        if now - INTERRUPT["raised_at"] < BURST_S:
            return
        INTERRUPT["raised_at"] = now
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, interrupt)
        except (ValueError, OSError):  # not the main thread
            pass
    if not ENDING["registered"]:  # registered before the libraries' own handlers, so it runs after them
        atexit.register(_end_after_late_signal)
        ENDING["registered"] = True
    if sys.unraisablehook is not _unraisable:
        _HOOK["previous"] = sys.unraisablehook
        sys.unraisablehook = _unraisable


ENDING = {"registered": False, "code": None, "signalled": False}
"""The exit code a command ended with (:func:`ending`) and whether SIGINT or SIGTERM came after it, as the
interpreter shut down."""

LATE_MESSAGE = "Interrupted as the command ended; it had finished, so its output is complete"


def ending(code) -> None:
    """The command has ended with ``code``: from here to the process's end SIGINT and SIGTERM are remembered, not
    raised (nothing is left to interrupt), and one that comes turns a success into exit code 130 with
    :data:`LATE_MESSAGE` once the libraries' exit handlers have run; a second one ends the process at once (a
    library's exit handler that hangs can still be left)."""
    import signal

    def remember(signum, frame):
        if ENDING["signalled"]:
            _end_after_late_signal()  # a success: 130 and the line
            os._exit(ENDING["code"] if isinstance(ENDING["code"], int) else 0)  # a failure keeps its code
        ENDING["signalled"] = True

    ENDING["code"] = code
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, remember)
        except (ValueError, OSError):  # not the main thread
            pass


def _end_after_late_signal() -> None:
    if ENDING["signalled"] and ENDING["code"] in (0, None):  # (a failed command keeps its own code)
        try:
            sys.stderr.write(LATE_MESSAGE + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(130)


_HOOK = {"previous": sys.__unraisablehook__}


def _unraisable(unraisable) -> None:
    """Python's hook for exceptions it cannot raise, quiet for the interrupts :func:`terminate_as_interrupt` raises
    (the next signal is raised again at once: the one dropped did not interrupt anything); others go to the hook
    installed before."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) or (
            isinstance(unraisable.exc_type, type) and issubclass(unraisable.exc_type, KeyboardInterrupt)):
        INTERRUPT["raised_at"] = -math.inf
        return
    _HOOK["previous"](unraisable)


def interruptible(progress):
    """``progress`` (a callback the long steps call as they end, or None) that first raises the interrupt a signal
    left behind: a SIGINT or SIGTERM whose KeyboardInterrupt Python dropped (raised inside a garbage-collector
    callback) or that came in a burst still ends the command at the next step. Quiet runs (None) get a callback
    that only does that."""
    def step(*args, **kwargs):
        if INTERRUPT["received"]:
            raise KeyboardInterrupt
        return progress(*args, **kwargs) if progress is not None else None
    return step


def ignore_signals() -> None:
    """SIGINT and SIGTERM ignored from now on (the command has finished; the process is exiting)."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):
            pass


def silence_stdout() -> None:
    """Point stdout at the null device so that the interpreter's own flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
