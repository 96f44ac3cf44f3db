"""The pre-fetch URL check: schemes, credentials, hosts, allow-lists and every non-public address.

Public addresses are only ever answered by a fake resolver; the real resolver is asked about IP literals
alone (getaddrinfo parses those itself), so nothing here performs a DNS lookup or leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from medianest.downloads import safety
from medianest.downloads.safety import MAX_URL_LENGTH, Resolver, check_url, is_public_address
from medianest.errors import InvalidInput

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:4700:4700::1111"

NOT_PUBLIC = [
    # loopback
    "127.0.0.1", "127.255.255.254", "::1",
    # RFC 1918 and unique-local IPv6
    "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.0.1", "192.168.255.254",
    "fc00::1", "fd12:3456:789a::1",
    # link-local, the metadata service's range
    "169.254.0.1", "169.254.254.254", "fe80::1", "fe80::1%eth0", "febf::1",
    # shared address space (carrier-grade NAT)
    "100.64.0.1", "100.127.255.254",
    # unspecified and "this network"
    "0.0.0.0", "0.1.2.3", "::",  # noqa: S104
    # multicast (which `is_global` alone lets through)
    "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",
    # reserved, broadcast, benchmarking, documentation, IETF protocol assignments
    "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1", "198.51.100.1", "203.0.113.1", "192.0.0.1",
    "2001:db8::1", "100::1",
    # IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of private addresses
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:192.168.1.1", "::ffff:100.64.0.1", "::127.0.0.1",
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::c0a8:101", "2002:7f00:1::1", "2002:c0a8:101::1",
    # Teredo and ORCHID-style non-global IPv6
    "2001::1", "2001:10::1",
]  # fmt: skip
PUBLIC = [PUBLIC_V4, "8.8.8.8", "1.1.1.1", PUBLIC_V6, "2a00:1450:4001::200e", "::ffff:8.8.8.8",
          "64:ff9b::808:808", "2002:808:808::1"]  # fmt: skip


def resolving_to(*addresses: str, calls: list[tuple[str, int]] | None = None) -> Resolver:
    """A resolver answering `addresses` for any host, recording what it was asked."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append((host, port))
        return list(addresses)

    return resolve


async def never_called(host: str, port: int) -> list[str]:
    raise AssertionError(f"the resolver must not be asked about {host}:{port}")


async def refused(url: str, reason: str, **kwargs: object) -> InvalidInput:
    kwargs.setdefault("allow_private", False)
    kwargs.setdefault("resolver", never_called)
    with pytest.raises(InvalidInput) as caught:
        await check_url(url, **kwargs)
    assert caught.value.details == {"fields": [{"field": "url", "reason": caught.value.message[5:]}]}
    assert reason in caught.value.message
    return caught.value


# --- addresses ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_every_non_public_address_is_refused(address: str) -> None:
    await refused("https://innocent.example/watch", "private or local network", resolver=resolving_to(address))


@pytest.mark.parametrize("address", PUBLIC)
async def test_public_addresses_pass(address: str) -> None:
    url = "https://media.example/v/1"
    assert await check_url(url, allow_private=False, resolver=resolving_to(address)) == url


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_is_public_address_agrees(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_is_public_address_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    resolver = resolving_to(PUBLIC_V4, PUBLIC_V6, "10.1.2.3")
    await refused("https://round-robin.example/", "private or local network", resolver=resolver)


async def test_allow_private_lets_private_addresses_through() -> None:
    url = "http://nas.lan:8096/videos/1"
    assert await check_url(url, allow_private=True, resolver=resolving_to("192.168.1.20", "fd00::20")) == url


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"])
async def test_metadata_addresses_are_refused_even_when_private_is_allowed(address: str) -> None:
    await refused("http://sneaky.example/latest/meta-data/", "cloud metadata", allow_private=True,
                  resolver=resolving_to(PUBLIC_V4, address))  # fmt: skip


@pytest.mark.parametrize("host", ["metadata", "metadata.google.internal", "METADATA.Google.Internal.", "instance-data"])
@pytest.mark.parametrize("allow_private", [False, True])
async def test_metadata_names_are_refused_without_resolving(host: str, allow_private: bool) -> None:
    await refused(f"http://{host}/computeMetadata/v1/", "cloud metadata", allow_private=allow_private)


# --- IP literals through the real resolver (getaddrinfo parses them; no DNS is involved) ----------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/admin",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/",
        "http://2130706433/",  # decimal
        "http://0x7f000001/",  # hex
        "http://0x7f.1/",  # hex, short form
        "http://0177.0.0.1/",  # octal
        "http://017700000001/",  # octal, one number
        "http://127.1/",  # short form
        "http://0/",  # 0.0.0.0, which reaches the local host on Linux
        "http://10.0.0.1/",
        "http://[fe80::1]/",
    ],
)
async def test_literal_private_addresses_are_refused_by_the_real_resolver(url: str) -> None:
    await refused(url, "private or local network", resolver=None)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://0xa9fea9fe/"]
)
async def test_the_metadata_address_in_any_notation_is_refused(url: str) -> None:
    await refused(url, "cloud metadata", resolver=None)
    await refused(url, "cloud metadata", resolver=None, allow_private=True)


async def test_allow_private_lets_loopback_through_with_the_real_resolver() -> None:
    assert await check_url("http://127.0.0.1:8765/v.mp4", allow_private=True) == "http://127.0.0.1:8765/v.mp4"
    assert await check_url("http://[::1]:8765/v.mp4", allow_private=True) == "http://[::1]:8765/v.mp4"
    assert await check_url("http://2130706433/", allow_private=True) == "http://2130706433/"


# --- resolution --------------------------------------------------------------------------------------


async def test_resolution_failure_is_refused() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    await refused("https://no-such-host.example/", "host could not be resolved", resolver=failing)
    await refused("https://no-such-host.example/", "host could not be resolved", resolver=resolving_to())
    await refused("https://odd.example/", "host could not be resolved", resolver=resolving_to("not an address"))


async def test_a_resolver_that_hangs_counts_as_a_failed_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hanging(host: str, port: int) -> list[str]:
        await asyncio.sleep(60)
        return [PUBLIC_V4]

    monkeypatch.setattr(safety, "RESOLVE_TIMEOUT_SECONDS", 0.01)
    await refused("https://slow-dns.example/", "host could not be resolved", resolver=hanging)


async def test_the_resolver_is_asked_for_the_ascii_host_and_the_effective_port() -> None:
    calls: list[tuple[str, int]] = []
    resolver = resolving_to(PUBLIC_V4, calls=calls)
    for url in ["https://Bücher.example./x", "http://media.example/x", "http://media.example:8080/x"]:
        await check_url(url, allow_private=False, resolver=resolver)
    assert calls == [("xn--bcher-kva.example", 443), ("media.example", 80), ("media.example", 8080)]


# --- schemes, credentials and syntax -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://example.com/video.mp4",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "dict://127.0.0.1:11211/stats",
        "ws://example.com/socket",
        "youtube.com/watch?v=dQw4w9WgXcQ",  # no scheme
        "//example.com/video",  # scheme-relative
        "",
    ],
)
async def test_only_http_and_https_are_allowed(url: str) -> None:
    await refused(url, "only http:// and https://")


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@host.example/",
        "http://user@host.example/",
        "http://@host.example/",
        "https://www.youtube.com@evil.example/",
        "http://user:p%40ss@host.example/",
        "http://host.example\\@evil.example/",
    ],
)
async def test_credentials_are_refused(url: str) -> None:
    await refused(url, "user name or password")


@pytest.mark.parametrize("url", ["http:///path", "http://", "https://./", "https://:443/", "http://?q=1"])
async def test_a_host_is_required(url: str) -> None:
    await refused(url, "has no host")


@pytest.mark.parametrize(
    "url",
    [
        "http://a..b.example/",
        "http://exa%6dple.com/",
        "http://" + "a" * 64 + ".example/",
        "http://under$core.example/",
        "http://a,b.example/",
    ],
)
async def test_malformed_host_names_are_refused(url: str) -> None:
    await refused(url, "not a valid domain name")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[fe80::1%25eth0]/", "zone identifiers"),
        ("http://[::1/", "not a valid URL"),
        ("http://[not-an-address]/", "not a valid URL"),
        ("http://host.example:99999/", "port is not valid"),
        ("http://host.example:http/", "port is not valid"),
        ("http://host.example:0/", "port is not valid"),
        ("http://host.example:-1/", "port is not valid"),
    ],
)
async def test_malformed_addresses_and_ports_are_refused(url: str, reason: str) -> None:
    await refused(url, reason)


@pytest.mark.parametrize(
    "url",
    [
        "http://host.example/a b",
        "http://host.example/\x00",
        "http://host.example/\r\nX-Injected: 1",
        "http://host.example/\ttab",
        "http://host.example/\x7f",
        "http://host.example/a\u00a0b",  # no-break space
        "http://host.example/a\u2028b",  # line separator
        "http://host.example/\u202egnp.exe",  # right-to-left override
        "http://host.example/\u200b",  # zero-width space
        "http://host\x00.example/",
    ],
)
async def test_whitespace_and_control_characters_are_refused(url: str) -> None:
    await refused(url, "spaces or control characters")


async def test_length_limit() -> None:
    base = "https://media.example/"
    longest = base + "a" * (MAX_URL_LENGTH - len(base))
    assert await check_url(longest, allow_private=False, resolver=resolving_to(PUBLIC_V4)) == longest
    await refused(longest + "a", "longer than 2048")


async def test_yt_dlp_smuggled_data_is_refused() -> None:
    await refused('https://vimeo.com/1#__youtubedl_smuggle={"http_headers":{}}', "smuggled")


# --- allow-list ----------------------------------------------------------------------------------------

SITES = ["youtube.com", "youtu.be", " .DailyMotion.com. "]


@pytest.mark.parametrize(
    "url",
    [
        "https://youtube.com/watch?v=1",
        "https://www.youtube.com/watch?v=1",
        "https://m.youtube.com/watch?v=1",
        "https://music.youtube.com/watch?v=1",
        "https://WWW.YOUTUBE.COM./watch?v=1",
        "https://youtu.be/1",
        "https://www.dailymotion.com/video/x1",
    ],
)
async def test_allowed_sites_and_their_subdomains_pass(url: str) -> None:
    assert await check_url(url, allow_private=False, allowed_sites=SITES, resolver=resolving_to(PUBLIC_V4))


@pytest.mark.parametrize(
    "url",
    [
        "https://evil-youtube.com/watch?v=1",
        "https://notyoutube.com/watch?v=1",
        "https://youtube.com.evil.example/watch?v=1",
        "https://youtube.co/watch?v=1",
        "https://wwwyoutube.com/",
        "https://vimeo.com/1",
        "https://93.184.215.14/",
        "https://[2606:4700:4700::1111]/",
    ],
)
async def test_look_alikes_and_other_sites_are_refused(url: str) -> None:
    await refused(url, "not in the list of sites", allowed_sites=SITES)


async def test_an_allowed_site_that_resolves_privately_is_still_refused() -> None:
    await refused("https://www.youtube.com/", "private or local network", allowed_sites=SITES,
                  resolver=resolving_to("127.0.0.1"))  # fmt: skip


async def test_an_empty_allow_list_allows_any_public_site() -> None:
    url = "https://any.example/"
    assert await check_url(url, allow_private=False, allowed_sites=(), resolver=resolving_to(PUBLIC_V4)) == url


async def test_idn_allow_list_entries_match_punycode_hosts() -> None:
    url = await check_url("https://video.bücher.example/", allow_private=False, allowed_sites=["BÜCHER.example"],
                          resolver=resolving_to(PUBLIC_V4))  # fmt: skip
    assert url == "https://video.xn--bcher-kva.example/"


# --- normalization -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTPS://WWW.YouTube.COM:443/watch?v=dQw4w9WgXcQ#t=42", "https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=42"),
        ("http://Media.Example:80", "http://media.example/"),
        ("http://media.example:8080/A/B?Q=1", "http://media.example:8080/A/B?Q=1"),
        ("https://media.example.:443/x", "https://media.example/x"),
        ("  https://media.example/x\n", "https://media.example/x"),
        ("https://☃.example/", "https://xn--n3h.example/"),
        ("https://[2606:4700:4700:0::1111]/", "https://[2606:4700:4700::1111]/"),
        ("https://media.example/caf%C3%A9?x=%20", "https://media.example/caf%C3%A9?x=%20"),
    ],
)
async def test_normalized_url(url: str, normalized: str) -> None:
    assert await check_url(url, allow_private=False, resolver=resolving_to(PUBLIC_V6)) == normalized


async def test_an_invalid_allow_list_entry_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        await check_url("https://youtube.com/", allow_private=False, allowed_sites=["you..tube.com"])


@pytest.mark.parametrize("url", ["http://localhost/", "http://nas.local/x.mp4", "http://db.internal/",
                                 "http://printer.home.arpa/", "http://a.b.localhost:8080/v"])
async def test_local_names_are_refused_without_a_lookup(url: str) -> None:
    with pytest.raises(InvalidInput, match="local network names"):
        await check_url(url, allow_private=False, resolver=never_called)
