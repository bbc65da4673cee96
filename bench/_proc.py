"""A process's CPU time from ``/proc``, for the benchmarks that measure processes they did not start themselves."""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str) -> float | None:
    """User + system CPU seconds of ``pid`` so far (``/proc/PID/stat``), or None if it is gone or not ours to read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after the command's name, which may hold spaces
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime and stime: fields 14 and 15 of proc(5)
