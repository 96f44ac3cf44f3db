"""The programs of a scaled MediaNest, each started on a host of a `Network` (tests/multihost/hosts.py):
PostgreSQL, Redis, an S3 server (moto), the download tests' media server, nginx in front of the API hosts,
and `medianest serve` / `medianest worker`. Each listens on its host's address at a fixed port (the host is
the test's own: no port can be taken there), and each `wait_*` is a deadline against hangs, not a speed
check, and says which process died or what it logged when it fails.

The waits connect from a host (`Host.call`): the test process itself is on none of these networks.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import CHEAP_PASSWORDS_ENV
from tests.multihost.hosts import Host, Proc

PG_PORT, REDIS_PORT, S3_PORT, MEDIA_PORT, API_PORT, LB_PORT = 5432, 6379, 9000, 8000, 8080, 80
DATABASE = "medianest"
S3_BUCKET = "medianest-multihost"
S3_REGION = "us-east-1"
S3_KEY_ID, S3_SECRET = "multihost", "multihost-secret"  # moto takes any; the app must send some
REPO = Path(__file__).resolve().parents[2]
# Variables of the test's own environment that must not reach the hosts: a proxy would be unreachable from
# them (yt-dlp and httpx honour these), and MEDIANEST_*/AWS_* would mix the machine's settings in.
_NOT_INHERITED = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def postgres_bin() -> Path:
    """The newest PostgreSQL server installed the Debian way (/usr/lib/postgresql/<version>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)")
    return found[-1].parent


def _system_user() -> str:
    """PostgreSQL refuses to run as root: its own account when there is one, else nobody."""
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return "nobody"


def start_postgres(host: Host, scratch: Path) -> Proc:
    """A fresh cluster (trust auth from the network's /24, no fsync: a test's data) on the host's address."""
    user = _system_user()
    data, sockets = scratch / "pgdata", scratch / "pgsock"
    for folder in (data, sockets):
        folder.mkdir()
        shutil.chown(folder, user, user)
    data.chmod(0o700)
    bindir = postgres_bin()
    host.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
              "--locale=C"], user=user)
    subnet = host.address.rsplit(".", 1)[0] + ".0/24"
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {subnet} trust\n")
    return host.spawn("postgres", [str(bindir / "postgres"), "-D", str(data), "-h", host.address, "-p", str(PG_PORT),
                                   "-k", str(sockets), "-c", "fsync=off", "-c", "synchronous_commit=off",
                                   "-c", "full_page_writes=off", "-c", "max_connections=300"], user=user)


def start_redis(host: Host) -> Proc:
    return host.spawn("redis", ["redis-server", "--bind", host.address, "--port", str(REDIS_PORT), "--save", "",
                                "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"])


def start_s3(host: Host) -> Proc:
    """moto's S3-protocol server (in memory); the bucket is made by the test (`make_bucket`)."""
    return host.spawn("s3", [sys.executable, "-m", "moto.server", "-H", host.address, "-p", str(S3_PORT)],
                      env=base_env())


def start_media(host: Host, file: Path, bytes_per_s: int, paths: list[str]) -> Proc:
    """The download tests' media server on the host's address (tests/multihost/mediahost.py)."""
    argv = [sys.executable, "-m", "tests.multihost.mediahost", host.address, str(MEDIA_PORT), str(file),
            str(bytes_per_s), *paths]
    return host.spawn("media", argv, env=base_env(), cwd=REPO)


def media_url(host: Host, path: str) -> str:
    return f"http://{host.address}:{MEDIA_PORT}{path}"


def start_nginx(host: Host, scratch: Path, upstreams: list[Host]) -> Proc:
    """nginx in front of `upstreams`, sticky by client address (`ip_hash`: a Socket.IO session's polling
    requests must all reach the server that holds it), passing WebSocket upgrades through."""
    folder = scratch / "nginx"
    folder.mkdir()
    logs = host.network.logs
    servers = "\n".join(f"        server {u.address}:{API_PORT};" for u in upstreams)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                         "uwsgi", "scgi"))
    conf = folder / "nginx.conf"
    conf.write_text(f"""\
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {logs / "lb-nginx-error.log"} warn;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {logs / "lb-nginx-access.log"} upstream;
{temp}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream medianest {{
        ip_hash;
{servers}
    }}
    server {{
        listen {host.address}:{LB_PORT};
        client_max_body_size 20m;
        location / {{
            proxy_pass http://medianest;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return host.spawn("nginx", [nginx, "-p", str(folder), "-e", str(logs / "lb-nginx-error.log"), "-c", str(conf),
                                "-g", "daemon off;"])


def proxied(lb: Host) -> list[tuple[str, str]]:
    """Each request nginx has logged (a WebSocket's when it closed): its request line and the API host
    (address:port) it went to."""
    lines = (lb.network.logs / "lb-nginx-access.log").read_text().splitlines()
    return [(line.split('"')[1], line.rsplit("upstream=", 1)[1]) for line in lines]


def base_env() -> dict[str, str]:
    """The test's environment without proxies and without settings meant for this machine."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in _NOT_INHERITED and not k.startswith(("MEDIANEST_", "AWS_"))}
    env["PYTHONUNBUFFERED"] = "1"  # logs read while the process runs, and whole if it is killed
    return env


@dataclass
class Site:
    """What every MediaNest host of one installation shares: the database, Redis, the bucket, the secret."""

    db: Host
    proxy: Host
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    stale_after_s: float = 3

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://postgres@{self.db.address}:{PG_PORT}/{DATABASE}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.db.address}:{REDIS_PORT}/0"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.db.address}:{S3_PORT}"

    def env(self, host: Host, root: Path) -> dict[str, str]:
        """A MediaNest host's settings: its own data and media folders under `root`, the shared rest."""
        data, media = root / host.name / "data", root / host.name / "media"
        media.mkdir(parents=True, exist_ok=True)
        return {**base_env(), **CHEAP_PASSWORDS_ENV,
                "MEDIANEST_DATA_DIR": str(data), "MEDIANEST_MEDIA_DIRS": str(media),
                "MEDIANEST_HOST": host.address, "MEDIANEST_PORT": str(API_PORT),
                "MEDIANEST_DATABASE_URL": self.database_url, "MEDIANEST_REDIS_URL": self.redis_url,
                "MEDIANEST_SECRET": self.secret, "MEDIANEST_LOG_LEVEL": "INFO", "MEDIANEST_SCAN_ON_START": "false",
                "MEDIANEST_TRUSTED_PROXIES": self.proxy.address,
                "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true",
                "MEDIANEST_DOWNLOADS_STALE_AFTER_S": str(self.stale_after_s),
                "MEDIANEST_DOWNLOADS_RETRY_BACKOFF_S": "0.2",
                # One admin queues ten downloads and polls them: the per-user limits are not under test here.
                "MEDIANEST_DOWNLOADS_RATE_LIMIT": "1000/hour", "MEDIANEST_API_RATE_LIMIT": "100000/minute",
                "MEDIANEST_DOWNLOADS_STORAGE": "s3", "MEDIANEST_S3_BUCKET": S3_BUCKET,
                "MEDIANEST_S3_ENDPOINT_URL": self.s3_endpoint, "MEDIANEST_S3_REGION": S3_REGION,
                "MEDIANEST_S3_ACCESS_KEY_ID": S3_KEY_ID, "MEDIANEST_S3_SECRET_ACCESS_KEY": S3_SECRET,
                "MEDIANEST_S3_DOWNLOADS_PREFIX": "downloads/"}

    def start(self, host: Host, command: str, root: Path) -> Proc:
        """`medianest serve` or `medianest worker` on `host`."""
        return host.spawn(command, [sys.executable, "-m", "medianest", command], env=self.env(host, root))


def data_dir(host: Host, root: Path) -> Path:
    return root / host.name / "data"


def media_dir(host: Host, root: Path) -> Path:
    return root / host.name / "media"


# -- waits (run them on a host: `client.call(lambda: wait_tcp(...))`) ----------------------------------------


def wait_tcp(address: str, port: int, proc: Proc, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        _check_alive(proc)
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} does not listen on {address}:{port}\n{proc.tail()}") from None
            time.sleep(0.1)


def wait_http(url: str, proc: Proc, timeout_s: float = 90) -> None:
    """Until `url` answers 200."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as client:
        while True:
            _check_alive(proc)
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer 200\n{proc.tail()}")
            time.sleep(0.2)


def wait_logged(proc: Proc, text: str, timeout_s: float = 90) -> None:
    """Until the process's output has `text`."""
    deadline = time.monotonic() + timeout_s
    while text not in proc.log.read_text(errors="replace"):
        _check_alive(proc)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not log {text!r}\n{proc.tail()}")
        time.sleep(0.1)


def _check_alive(proc: Proc) -> None:
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}\n{proc.tail()}")
