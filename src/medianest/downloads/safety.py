"""The check a pasted download URL must pass before the server fetches anything.

The threat is server-side request forgery: MediaNest fetches whatever URL a user pastes, from inside the
server's network. Unchecked, a user could make it read what only the server can reach: admin pages on
127.0.0.1, a router or NAS on 192.168.x.x, other containers, or the cloud metadata service at
169.254.169.254, which hands out the machine's credentials.

`check_url` refuses anything but plain http(s) URLs to a named host, applies the admin's allow-list of
sites, and resolves the host, refusing it when any address it resolves to is not public. IP literals in
every notation are covered by resolution itself: the system resolver reads `2130706433`, `0x7f.1` and
`0177.0.0.1` as 127.0.0.1.

This pre-check of one URL at one moment cannot see HTTP redirects, DNS rebinding (the name resolving to
a public address now and to 127.0.0.1 when the download connects), nor the media, manifest and API URLs
that yt-dlp's extractors fetch on their own. Those are refused where connections are made:
`guard_connections` makes every name resolution of the yt-dlp child process (`downloads/process.py`)
drop addresses that are not public (only the metadata ones when the admin allows private networks), so
no connection of that process can reach one. The guard lives in Python, so no other program may fetch
for that process: `ytdlp.py` keeps ffmpeg and external downloaders off the network. What the server and
its workers fetch themselves for a user (a podcast feed, a web page to speak) goes through
`GuardedTransport`, which checks the address each connection is made to in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from medianest.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> every IP address (as text) the host resolves to; raises OSError when it cannot.
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048
# A resolver slower than this is treated as a failed lookup, so a request never hangs on DNS.
RESOLVE_TIMEOUT_SECONDS = 10.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Cloud instance-metadata endpoints serve credentials and never media, so they stay refused even when
# the admin allows private addresses (for a NAS on the LAN, say).
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})
_METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")))
# A host name after IDNA encoding; this also refuses `%`, `\` and other characters parsers disagree on.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
# yt-dlp reads data "smuggled" in this fragment as trusted options for its extractors.
_SMUGGLE_MARKER = "__youtubedl_smuggle"
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
# The well-known NAT64 prefix (RFC 6052): the last 32 bits are the IPv4 address actually reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def check_url(
    url: str, *, allow_private: bool, allowed_sites: Sequence[str] = (), resolver: Resolver | None = None
) -> str:
    """The normalized URL (surrounding whitespace dropped, scheme and host lower-case, IDNA host, default
    port dropped), or `InvalidInput("url", reason)` when it must not be fetched. `allowed_sites`, when not
    empty, limits hosts to those domains and their subdomains (an entry that is not a valid domain name
    raises ValueError: validate them at startup). The resolver defaults to the system's."""
    url = url.strip()
    _check_text(url)
    parts = _split(url)
    host, port = _host(parts), _port(parts)
    _check_host(host, allowed_sites)
    if not allow_private and _local_name(host):
        raise InvalidInput("url", "local network names cannot be downloaded from")
    for address in await _resolve(host, port, resolver or system_resolver):
        _check_address(address, allow_private)
    return _normalized(parts, host, port)


def is_public_address(address: IPAddress) -> bool:
    """True when `address`, or the IPv4 address an IPv4-mapped, NAT64 or 6to4 address carries, is public
    unicast. The download process must apply this to every connection it makes (see the module doc)."""
    ip = _embedded_ipv4(address) or address
    # `is_global` is the "globally reachable" column of IANA's special-purpose registries, so it already
    # refuses loopback, RFC 1918, 100.64/10, link-local, 0/8, 240/4, documentation ranges, fc00::/7 and
    # fe80::/10: better kept by the stdlib than by hand. It calls multicast global, hence the extra test;
    # `is_reserved` refuses IPv6 outside 2000::/3 (for one, the deprecated IPv4-compatible ::a.b.c.d).
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def guard_connections(allow_private: bool = False) -> None:
    """For a process that only fetches downloads: from now on every resolution (hence every connection:
    redirects, rebinding, extractor requests, IP literals, which resolve too) yields public addresses
    only, and a host with none fails as unresolvable. With `allow_private`, only cloud metadata services
    are refused, by name before any lookup and by address after it. Never call it in the server: it
    would cut the server off from its own database on a private network."""
    real = socket.getaddrinfo

    def guarded(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if _is_metadata_name(name):
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is a cloud metadata service; {_REFUSED}")
        infos = real(host, port, *args, **kwargs)
        reachable = [info for info in infos if _may_connect(str(info[4][0]), allow_private)]
        if not reachable:
            kind = "a cloud metadata service" if allow_private else "a private address"
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is {kind}; {_REFUSED}")
        return reachable

    socket.getaddrinfo = guarded


class AddressRefused(httpx.ConnectError):
    """`GuardedTransport` would not connect: the host resolves, now, to an address downloads may not reach."""


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport for fetching a user's URL in the server or a worker, where `guard_connections`
    cannot be used: each request's host is resolved here, at the moment of the request, every address
    checked as `check_url` checks them, and the connection made to the checked address (TLS still
    verifies the host's name). `check_url` alone, a moment earlier, cannot see DNS rebinding: a name that
    resolves to a public address for the check and to 127.0.0.1 for the connection. A refusal is an
    `AddressRefused` (an `httpx.ConnectError`). Connections are pooled by address: two sites behind one
    address may share one (the second's certificate is then not checked again)."""

    def __init__(self, allow_private: bool, inner: httpx.AsyncBaseTransport | None = None,
                 resolver: Resolver | None = None) -> None:
        self.allow_private, self.resolver = allow_private, resolver
        self.inner = inner or httpx.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or _DEFAULT_PORTS.get(request.url.scheme, 443)
        try:
            addresses = await _resolve(host, port, self.resolver or system_resolver)
            for address in addresses:
                _check_address(address, self.allow_private)
        except InvalidInput as exc:
            raise AddressRefused(f"{host}: {exc.message}", request=request) from None
        if str(addresses[0]) != host:  # a name: connected to by the address just checked, never resolved again
            request.url = request.url.copy_with(host=str(addresses[0]))
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# ytdlp.classify reads these words as a permanent failure.
_REFUSED = "downloads may not reach it"


def _is_metadata_name(host: str) -> bool:
    """A metadata host name, or an address literal of one (in any form `ipaddress` reads)."""
    host = host.strip("[]").rstrip(".").lower()
    if host in _METADATA_HOSTS:
        return True
    try:
        return _is_metadata(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return False


def _may_connect(address: str, allow_private: bool) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not _is_metadata(ip) and (allow_private or is_public_address(ip))


def _is_metadata(address: IPAddress) -> bool:
    return address in _METADATA_ADDRESSES or _embedded_ipv4(address) in _METADATA_ADDRESSES


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the operating system resolves `host` to (IP literals in any inet_aton form too)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _check_text(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("url", f"is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in url):
        raise InvalidInput("url", "must not contain spaces or control characters")
    if _SMUGGLE_MARKER in url:
        raise InvalidInput("url", "must not carry yt-dlp's internal smuggled data")


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed `[` around an IPv6 address
        raise InvalidInput("url", "is not a valid URL") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise InvalidInput("url", "only http:// and https:// URLs can be downloaded")
    if "@" in parts.netloc:
        raise InvalidInput("url", "must not contain a user name or password")
    return parts


def _host(parts: SplitResult) -> str:
    """The host, lower-case, ASCII (IDNA) and without a trailing dot, or a bare IPv6 address."""
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidInput("url", "has no host name")
    if ":" in host:  # only an IPv6 literal keeps a colon in `hostname`
        return _ipv6_literal(host)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidInput("url", "host is not a valid domain name") from exc
    if not _HOST_NAME.fullmatch(host):
        raise InvalidInput("url", "host is not a valid domain name")
    return host


def _ipv6_literal(host: str) -> str:
    if "%" in host:
        raise InvalidInput("url", "IPv6 zone identifiers are not allowed")
    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError as exc:
        raise InvalidInput("url", "host is not a valid IPv6 address") from exc


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError as exc:  # not a number, or beyond 65535
        raise InvalidInput("url", "port is not valid") from exc
    if port == 0:
        raise InvalidInput("url", "port is not valid")
    return port or _DEFAULT_PORTS[parts.scheme]


def _check_host(host: str, allowed_sites: Sequence[str]) -> None:
    if host in _METADATA_HOSTS:
        raise InvalidInput("url", "cloud metadata services cannot be downloaded from")
    sites = [_site(site) for site in allowed_sites]
    if sites and not any(host == site or host.endswith("." + site) for site in sites if site):
        raise InvalidInput("url", "this site is not in the list of sites downloads are allowed from")


def _local_name(host: str) -> bool:
    """Names that never lead to the public internet (localhost, RFC 8375, mDNS, common LAN suffixes):
    refused without asking a resolver, which would only leak the lookup to the network's DNS."""
    return host == "localhost" or host.endswith(_LOCAL_SUFFIXES)


def _site(site: str) -> str:
    """An allow-list entry as a bare ASCII domain: ` *.YouTube.com. ` -> `youtube.com`."""
    return site.strip().lower().lstrip("*").strip(".").encode("idna").decode("ascii")


async def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    with contextlib.suppress(ValueError):  # an address in its usual form needs no lookup (nor a thread)
        return [ipaddress.ip_address(host)]
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            found = await resolver(host, port)
        addresses = [ipaddress.ip_address(address) for address in found]
    except (OSError, ValueError) as exc:  # TimeoutError is an OSError, UnicodeError a ValueError
        raise InvalidInput("url", "host could not be resolved") from exc
    if not addresses:
        raise InvalidInput("url", "host could not be resolved")
    return addresses


def _check_address(address: IPAddress, allow_private: bool) -> None:
    if _is_metadata(address):
        raise InvalidInput("url", "cloud metadata services cannot be downloaded from")
    if not allow_private and not is_public_address(address):
        raise InvalidInput("url", "host is on a private or local network, which downloads may not reach")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address really reached through an IPv4-mapped, 6to4 or NAT64 IPv6 address. Unwrapping it
    here keeps the answer the same across Python versions, which differ on these forms' properties."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _normalized(parts: SplitResult, host: str, port: int) -> str:
    netloc = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[parts.scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, parts.fragment))
