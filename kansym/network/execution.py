"""Where independent fits run: local worker processes (joblib's loky) or a Dask cluster.

Every task carries its own seed and data, and every worker trains with one torch thread, so results are
identical bit for bit whatever the backend and the number of workers. ``jobs=None`` uses the CPUs this
process may run on (its affinity mask, which batch schedulers set), not the machine's total.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from kansym.errors import KansymError

BACKENDS = ("loky", "dask")
# a scheduler address: an optional scheme, a host name, IPv4 or bracketed IPv6 address, an optional port
_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]{0,15}://)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])"
                      r"(?::[0-9]{1,5})?/?", re.ASCII)


def available_cpus() -> int:
    """CPUs this process may use (scheduler affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Execution:
    """How to run independent tasks: ``backend`` 'loky' with ``jobs`` worker processes (None: one per
    available CPU), or 'dask' on the ``dask.distributed`` scheduler at ``scheduler`` (an address such as
    tcp://10.0.0.5:8786; None starts a LocalCluster with ``jobs`` single-threaded workers)."""

    jobs: int | None = None
    backend: str = "loky"
    scheduler: str | None = None

    def checked(self) -> "Execution":
        if self.backend not in BACKENDS:
            raise KansymError(f"unknown --backend {self.backend!r}; valid choices: {', '.join(BACKENDS)}")
        if self.jobs is not None and not (isinstance(self.jobs, int) and 1 <= self.jobs <= 1024):
            raise KansymError(f"--jobs must lie in 1 .. 1024, got {self.jobs!r}")
        if self.scheduler is not None and self.backend != "dask":
            raise KansymError("--scheduler needs --backend dask")
        if self.scheduler is not None and not (isinstance(self.scheduler, str) and _ADDRESS.fullmatch(self.scheduler)):
            shown = repr(self.scheduler)[:60] if isinstance(self.scheduler, str) else type(self.scheduler).__name__
            raise KansymError(f"--scheduler {shown} is not a scheduler address: give [SCHEME://]HOST[:PORT], e.g. "
                              "tcp://10.0.0.5:8786 or tcp://[::1]:8786")
        return self

    def reachable(self) -> "Execution":
        """Fail now, with the address, if the Dask scheduler cannot be reached or dask is missing."""
        if self.backend != "dask":
            return self
        try:
            from distributed import Client
        except ImportError:
            raise KansymError("--backend dask needs dask.distributed: pip install 'kansym[dask]'") from None
        if self.scheduler is not None:
            try:
                Client(self.scheduler, timeout="5s").close()
            except ValueError:
                raise KansymError(f"--scheduler {self.scheduler!r} is not an address dask can use, e.g. "
                                  "tcp://10.0.0.5:8786") from None
            except (OSError, TimeoutError) as exc:
                raise KansymError(f"cannot reach the Dask scheduler at {self.scheduler}: "
                                  f"{type(exc).__name__}") from None
        return self

    @property
    def workers(self) -> int:
        return self.jobs or available_cpus()


def _single_threaded(fn: Callable, arg):
    """Run ``fn(arg)`` with one thread for torch and the BLAS libraries (bit-identical everywhere)."""
    from threadpoolctl import threadpool_limits

    _reusable_heap()
    with threadpool_limits(limits=1):
        return fn(arg)


@functools.cache  # once per worker process
def _reusable_heap() -> None:
    """Undo a fixed glibc trim threshold in this process (speed only; results are unchanged).

    Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's mmap
    threshold at 128 KiB: every temporary array of a fit larger than that (the spline bases, a few MB
    each, made ~20 times per LBFGS step) is then mapped, zeroed and unmapped afresh, and a fit runs several
    times slower than in a plain process (4x for a KAN-WS4 member). Large blocks are kept for reuse instead (up to 32 MiB each; freed
    memory returned to the system above 64 MiB).
    """
    if not any(k in os.environ for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to undo
        pass


def run_tasks(fn: Callable, args: Sequence, execution: Execution | None = None, progress=None) -> list:
    """``[fn(a) for a in args]``, computed by the workers of ``execution``; results in the order of ``args``.

    ``fn`` must be a module-level function and each ``a`` picklable. A failing task raises its error
    here (the other tasks' results are lost only if they had not finished)."""
    execution = (execution or Execution()).checked()
    args = list(args)
    if not args:
        return []
    if execution.backend == "dask":
        return _run_dask(fn, args, execution, progress)
    from joblib import Parallel, delayed

    jobs = min(execution.workers, len(args))
    out = []
    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
    for k, result in enumerate(parallel(delayed(_single_threaded)(fn, a) for a in args), start=1):
        out.append(result)
        if progress:
            progress(f"task {k}/{len(args)}")
    return out


def _run_dask(fn: Callable, args: list, execution: Execution, progress) -> list:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise KansymError("--backend dask needs dask.distributed: pip install 'kansym[dask]'") from None
    cluster = None
    try:
        if execution.scheduler is None:
            try:
                import dask

                # no statistical profiler in our own workers: it samples the fit's Python stack every 10 ms
                # and slowed each fit by a few per cent; nothing reads its profiles (there is no dashboard)
                with dask.config.set({"distributed.worker.profile.enabled": False}):
                    cluster = LocalCluster(n_workers=execution.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
            except RuntimeError as exc:
                raise KansymError("could not start a local Dask cluster; in a script, put the code that runs it "
                                  "under `if __name__ == \"__main__\":` (Dask starts its workers as new processes) "
                                  f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:120]})") from None
            client = Client(cluster, timeout="30s")
        else:
            client = Client(execution.scheduler, timeout="5s")
    except KansymError:
        raise
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise KansymError(f"cannot reach the Dask scheduler at {execution.scheduler}: {type(exc).__name__}") from None
    try:
        futures = client.map(_single_threaded, [fn] * len(args), args, pure=False)
        out = []
        for k, fut in enumerate(futures, start=1):
            out.append(fut.result())
            if progress:
                progress(f"task {k}/{len(args)}")
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
