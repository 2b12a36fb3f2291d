"""Reading what kansym did not write itself, safely, and strict JSON both ways: a file is read only if it is a
regular file of bounded size (a FIFO or a device is refused at once, never waited on), JSON is parsed with
bounded depth and integers, and non-finite numbers travel as the strings "NaN", "Infinity", "-Infinity".
Whether a process is alive (for the owner files of runs and scratch directories) and signals held back while
files that belong together are moved into place are here too."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from pathlib import Path

from kansym.errors import KansymError


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine (0 and negative ids name process groups, not a
    process: never alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    try:  # a process that has ended but is not yet reaped (a zombie, state Z) is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@contextlib.contextmanager
def signals_deferred():
    """SIGINT and SIGTERM held back while files that belong together are moved into place, so that an interrupt
    cannot fall between two renames: a signal that arrives is delivered to the handler it would have reached when
    the block ends. Only the main thread can hold them back (it runs Python's signal handlers); elsewhere nothing is
    held back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending, previous = [], {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(sig)
            if handler is not None:  # None: a handler installed outside Python, left alone
                previous[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
        yield
    finally:
        try:  # every handler is put back even if a signal reaches one already restored in between
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        finally:
            for sig, handler in previous.items():
                if signal.getsignal(sig) is not handler:
                    signal.signal(sig, handler)
        for sig in dict.fromkeys(pending):
            signal.raise_signal(sig)


MAX_READ_BYTES = 64_000_000
"""Largest file kansym reads from a run directory, a registry or an imported hall of fame [bytes]."""


def read_text_bounded(path: Path, max_bytes: int = MAX_READ_BYTES, what: str = "file") -> str:
    """UTF-8 text of ``path``, read only if it is a regular file of at most ``max_bytes`` (a FIFO, a device or
    a directory is refused at once, never waited on). Raises KansymError naming the file."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KansymError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KansymError(f"{what} {path} is not a regular file")
        if st.st_size > max_bytes:
            raise KansymError(f"{what} {path} is larger than {max_bytes // 1_000_000} MB")
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = None
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise KansymError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        if fd is not None:
            os.close(fd)
    if len(data) > max_bytes:
        raise KansymError(f"{what} {path} is larger than {max_bytes // 1_000_000} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KansymError(f"{what} {path} is not UTF-8 text") from None


def _bounded_int(text: str) -> int:
    """An integer of kansym JSON: at most 30 digits (kansym writes none longer; longer ones overflow floats)."""
    if len(text.lstrip("-")) > 30:
        raise ValueError(f"integer with {len(text)} digits")
    return int(text)


def _unique_keys(pairs: list) -> dict:
    """A JSON object whose keys are distinct: a repeated key (which a reader would silently resolve to its last
    value) is an error."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the key {twice[:40]!r} appears twice in one object")
    return out


def parse_json_text(text: str, where) -> object:
    """JSON of ``text`` with non-finite numbers decoded; nesting too deep for the parser is an error naming
    ``where``, not a RecursionError."""
    try:
        return decode_non_finite(json.loads(text, parse_int=_bounded_int, object_pairs_hook=_unique_keys))
    except json.JSONDecodeError as exc:
        raise KansymError(f"{where} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise KansymError(f"{where} is nested too deeply to be kansym JSON") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise KansymError(f"{where} is not kansym JSON: {str(exc)[:100]}") from None


NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def json_text(obj) -> str:
    """Strict JSON text; a non-finite number is written explicitly as the string "NaN", "Infinity" or
    "-Infinity" (never as null, never as a bare NaN token that strict readers refuse)."""
    return json.dumps(_encode(obj), indent=2, sort_keys=False, default=json_default, allow_nan=False)


def decode_non_finite(obj):
    """Inverse of the encoding of :func:`json_text`: the strings "NaN", "Infinity", "-Infinity" become floats."""
    if isinstance(obj, str):
        return NON_FINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode_non_finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_non_finite(v) for v in obj]
    return obj


def _encode(obj):
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if hasattr(obj, "tolist") and getattr(obj, "ndim", None) is not None:
        return _encode(obj.tolist())
    return obj


def json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def first_difference(a, b, path: str = "") -> tuple[str, object, object] | None:
    """(dotted path, value in ``a``, value in ``b``) of the first place where two JSON values differ (a key
    missing on one side gives None there), or None when they are equal: the part of a message that matters."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            where = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                return where, a.get(k), b.get(k)
            found = first_difference(a[k], b[k], where)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else (path, a, b)
