"""Which process runs a scan, and whether it still does.

A scan row names its process as "host:pid:start", the start being the process's start time read from
/proc (Linux): after a crash the pid may be handed to a new process, which then has another start time,
so it is not mistaken for the old one. Where /proc is missing the start is left empty and only the
scan's heartbeat tells (scans.py).
"""

from __future__ import annotations

import functools
import os
import socket


@functools.cache
def _boot_time() -> int | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def start_time(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since the epoch (unique across reboots); None when it
    does not run (any more) or this system has no /proc."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Field 22 (starttime, ticks after boot). The command name (field 2) is in parentheses and may hold
    # spaces or parentheses itself, so fields are counted from the last ")".
    fields = stat[stat.rfind(")") + 2:].split()
    if boot is None or len(fields) < 20 or not fields[19].isdigit() or fields[0] == "Z":
        return None  # a zombie has exited: only its exit status waits to be collected
    return str(boot * os.sysconf("SC_CLK_TCK") + int(fields[19]))


def this_process() -> str:
    """This process as a scan owner."""
    return _identity(os.getpid())


@functools.cache  # by pid, so a forked child is itself
def _identity(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{start_time(pid) or ''}"


def is_gone(owner: str | None) -> bool:
    """True when `owner` ran on this host and its process is no longer running (or its pid now belongs
    to a process started later). False when alive, on another host, or not knowable here."""
    if not owner or owner.count(":") < 2:
        return False
    host, pid, started = owner.rsplit(":", 2)
    if host != socket.gethostname() or not pid.isdigit() or not started or _boot_time() is None:
        return False
    return start_time(int(pid)) != started
