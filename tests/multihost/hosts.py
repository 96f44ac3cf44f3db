"""Hosts for the multi-host tests: Linux network namespaces joined by one bridge, each with one address, and
the processes started in them.

`Network` makes a switch namespace holding a bridge, and each `host(name)` is a namespace with its loopback
and an `eth0` whose veth peer is a port of that bridge: hosts reach each other by address, and nothing else
(no route out, nothing in the root namespace). Names and the /24 are drawn per run, so two runs on one
machine never meet. Every address, every listening socket and every process lives in a namespace made here;
`close()` kills what runs in them and deletes them, also after a failure.

The test's own clients join a host too: `Host.call(fn)` runs `fn` in a thread that entered the host's
network namespace first (setns affects the calling thread only), so every socket it opens - and every
thread it starts, an event loop's executor included - is on that host. The rest of the test process stays
where it was.

Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2's `ip`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000  # linux/sched.h
STOP_WAIT_S = 10  # a process asked to stop (SIGTERM) gets this long before SIGKILL
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def missing() -> str | None:
    """Why namespaces cannot be made here (not root, no `ip`), or None when they can."""
    if os.geteuid() != 0:
        return "needs root to make network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip`"
    return None


def ip(*args: str) -> str:
    """`ip ...`, failing with its stderr."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class Proc:
    """A process started on a host: the leader of its own process group, its output in `log`."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.name, self.popen, self.log = name, popen, log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The end of its output, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return f"--- {self.name}: no log ---"
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """`sig` to the whole process group (the process and the children it did not move elsewhere)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL when it is not gone in STOP_WAIT_S; reaped either way."""
        if self.alive():
            self.kill_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(STOP_WAIT_S)
        self.kill_group(signal.SIGKILL)  # what is left of the group (its children), if anything
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(STOP_WAIT_S)


class Host:
    """One namespace with one address (`address`, on the network's /24)."""

    def __init__(self, network: Network, name: str, ns: str, address: str) -> None:
        self.network, self.name, self.ns, self.address = network, name, ns, address

    def spawn(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
              user: str | None = None, cwd: Path | None = None) -> Proc:
        """Start `argv` on this host (as `user` when given), its output to `<logs>/<host>-<name>.log`;
        stopped by `Network.close()` unless stopped before."""
        log = self.network.logs / f"{self.name}-{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen([*self._exec(user), *argv], env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(f"{self.name}/{name}", popen, log)
        self.network.procs.append(proc)
        return proc

    def run(self, argv: Sequence[str], *, user: str | None = None, timeout_s: float = 120) -> str:
        """Run `argv` on this host to the end; its stdout, or RuntimeError with its output."""
        done = subprocess.run([*self._exec(user), *argv], capture_output=True, text=True, check=False,
                              timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def _exec(self, user: str | None) -> list[str]:
        """The command prefix that runs a program on this host (as `user`): both exec, so the process
        started is the program itself. (runuser would fork and stay between us and it.)"""
        prefix = ["ip", "netns", "exec", self.ns]
        if user is not None:
            prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
        return prefix

    def pids(self) -> list[int]:
        """Every process whose network namespace this host's is."""
        return [int(p) for p in ip("netns", "pids", self.ns).split()]

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()` in a thread on this host's network (see the module docstring); its result or its exception.

        The thread is a daemon: when the caller is interrupted (a test timeout) it is left behind, and the
        network's teardown goes ahead without it."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                self._enter()
                outcome["value"] = fn()
            except BaseException as exc:  # handed to the caller, whatever it is
                outcome["error"] = exc

        thread = threading.Thread(target=run, name=f"on-{self.name}", daemon=True)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        value: T = outcome["value"]
        return value

    def _enter(self) -> None:
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({self.ns}): {os.strerror(err)}")
        finally:
            os.close(fd)


class Network:
    """A bridge in a namespace of its own and the hosts on it; a context manager that tears it all down.

    `logs` is where the hosts' processes write their output (kept after the test, for a look at a failure).
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.prefix = f"mn-{secrets.token_hex(4)}"
        # A /24 in 10/8 drawn per run: only the namespaces made here ever see it, but two runs at once
        # (two checkouts on one CI machine) each have their own.
        self.subnet = f"10.{random.randint(16, 250)}.{random.randint(0, 255)}"
        self.hosts: dict[str, Host] = {}
        self.procs: list[Proc] = []
        self._made: list[str] = []  # namespaces, in the order made
        try:
            self.switch = self._namespace("switch")
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
            ip("-n", self.switch, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise

    def host(self, name: str) -> Host:
        """A new host `name` on the bridge, at the next free address of the /24."""
        if name in self.hosts:
            raise ValueError(f"there is a host {name!r} already")
        index = 10 + len(self.hosts)
        ns = self._namespace(name)
        port = f"p{index}"  # the bridge's end, named inside the switch namespace only
        ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        address = f"{self.subnet}.{index}"
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        self.hosts[name] = host = Host(self, name, ns, address)
        return host

    def _namespace(self, name: str) -> str:
        ns = f"{self.prefix}-{name}"
        ip("netns", "add", ns)
        self._made.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def tails(self, lines: int = 30) -> str:
        """The end of every process's log, for failure messages."""
        return "\n".join(p.tail(lines) for p in self.procs)

    def close(self) -> None:
        """Stop every process started here (the newest first), kill whatever is left in the namespaces
        (children that moved to sessions of their own), and delete the namespaces (their veths with them)."""
        for proc in reversed(self.procs):
            proc.stop()
        for ns in reversed(self._made):
            _kill_all_in(ns)
            with contextlib.suppress(RuntimeError):
                ip("netns", "del", ns)
        self._made.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _kill_all_in(ns: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in ip("netns", "pids", ns).split()]
        except RuntimeError:
            return  # no such namespace (any more)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@contextlib.contextmanager
def scratch(prefix: str = "medianest-multihost-") -> Iterator[Path]:
    """A folder that processes running as other users (PostgreSQL, nginx's workers) can reach: pytest's
    tmp_path is under a 0700 folder of root's. Removed at the end."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
