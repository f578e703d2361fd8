"""CPU thread policy: how many torch threads to use, from the cores that are actually free right now.

On a shared CPU, asking torch for more threads than there are free cores is far worse than asking for too
few: OpenMP threads wait for each other at every operator, so one descheduled thread stalls all of them
(measured on this 2-core machine under load: a try-off took 14 s with one thread and 100-115 s with two).
Too few threads costs at most the parallel speed-up. So the policy counts the cores this process may run on
(affinity, cgroup quota), subtracts what other processes are using now, and rounds *down*.

"What other processes are using" is a short sample of /proc/stat (busy CPU time of the whole machine minus
this process's own), because the 1-minute load average lags a minute behind and counts this process's own
previous job; where /proc/stat is missing (macOS) the load average is used. Inter-op threads are 1: the
engine runs one chain of operators at a time, so a second pool only competes for the same cores.

Order of precedence: an explicit count (``--threads``, the app setting) > ``OMFA_THREADS`` > automatic.
Torch is imported only by :func:`apply_threads`.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Optional

from engine.errors import OmfaError

MAX_THREADS = 256
# Round the free cores down unless nearly a whole core is free: a core that is a quarter busy still
# deschedules one of our threads often enough to stall the others.
_SLACK = 0.25


class ThreadsError(OmfaError, ValueError):
    """An invalid thread count."""


@dataclass(frozen=True)
class ThreadPlan:
    """How many threads a run uses and why.

    Attributes
    ----------
    intra : int      torch.set_num_threads (threads inside one operator)
    interop : int    torch.set_num_interop_threads
    cores : int      cores this process may run on (affinity and cgroup quota)
    busy : float     cores busy with other processes when measured (-1: unknown)
    source : str     "setting", "OMFA_THREADS" or "auto"
    reason : str     one line for ``omfa doctor``, the CLI and the log
    """

    intra: int
    interop: int
    cores: int
    busy: float
    source: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:  # "max 100000" (no quota) or "200000 100000" (2 cores' worth)
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def _cpu_totals() -> Optional[tuple[float, float]]:
    """(busy, total) jiffies of the whole machine from /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total


def busy_cores(window: float = 0.2) -> float:
    """Cores kept busy by *other* processes over the next ``window`` seconds; -1 when unknown.

    Busy machine time from /proc/stat minus this process's own CPU time over the same window; without
    /proc/stat, the 1-minute load average (which includes this process's recent work: an overestimate).
    """
    a = _cpu_totals()
    if a is None:
        try:
            return float(os.getloadavg()[0])
        except (AttributeError, OSError):
            return -1.0
    own0, t0 = _own_cpu(), time.monotonic()
    time.sleep(window)
    b = _cpu_totals()
    own1, t1 = _own_cpu(), time.monotonic()
    if b is None or b[1] <= a[1]:
        return -1.0
    ncpu = os.cpu_count() or 1
    machine = (b[0] - a[0]) / (b[1] - a[1]) * ncpu  # busy cores of the whole machine
    own = (own1 - own0) / max(t1 - t0, 1e-6)
    return max(0.0, machine - own)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def plan_threads(requested: int = 0, busy: Optional[float] = None, cores: Optional[int] = None,
                 window: float = 0.2) -> ThreadPlan:
    """The thread plan for a run.

    Parameters
    ----------
    requested : int   an explicit count (``--threads``, the app setting); 0 = automatic
    busy, cores : for tests and benchmarks: the measurement to decide from (default: measured now)
    window : float    seconds of /proc/stat sampling when ``busy`` is not given

    Raises
    ------
    ThreadsError  for a negative or absurd ``requested`` or an invalid ``OMFA_THREADS``.
    """
    cores = cores or usable_cores()
    if requested:
        n = check_threads(requested, "threads")
        return ThreadPlan(n, 1, cores, -1.0 if busy is None else busy, "setting",
                          f"{n} thread(s) as set" + (f" (more than the {cores} usable cores)" if n > cores else ""))
    env = os.environ.get("OMFA_THREADS", "").strip()
    if env:
        try:
            n = check_threads(int(env), "OMFA_THREADS")
        except ValueError:
            raise ThreadsError(f"OMFA_THREADS must be a whole number of threads (0 = automatic), not {env!r}") \
                from None
        if n:
            return ThreadPlan(n, 1, cores, -1.0 if busy is None else busy, "OMFA_THREADS",
                              f"{n} thread(s) from OMFA_THREADS")
    if busy is None:
        busy = busy_cores(window)
    if busy < 0:
        return ThreadPlan(cores, 1, cores, busy, "auto", f"{cores} thread(s): all usable cores (load unknown)")
    n = max(1, min(cores, math.floor(cores - busy + _SLACK)))
    return ThreadPlan(n, 1, cores, round(busy, 2), "auto",
                      f"{n} thread(s): {cores} usable core(s), {busy:.1f} busy with other programs")


def check_threads(n: int, name: str = "threads") -> int:
    """``n`` if it is a valid thread count (0 = automatic), else ThreadsError naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_THREADS:
        raise ThreadsError(f"{name} must be a whole number from 0 (automatic) to {MAX_THREADS}, not {n!r}")
    return n


def apply_threads(plan: ThreadPlan) -> ThreadPlan:
    """Give torch the plan's thread counts. Inter-op threads can only be set before torch's first parallel
    work; later calls keep the pool torch already has (the intra-op count, which matters, always applies)."""
    import torch

    if torch.get_num_threads() != plan.intra:
        torch.set_num_threads(plan.intra)
    if torch.get_num_interop_threads() != plan.interop:
        try:
            torch.set_num_interop_threads(plan.interop)
        except RuntimeError:  # "cannot set number of interop threads after parallel work has started"
            pass
    return plan


def use_threads(requested: int = 0, window: float = 0.2) -> ThreadPlan:
    """Plan and apply: what the CLI, the app's engine worker and the kiosk call before a run."""
    return apply_threads(plan_threads(requested, window=window))
