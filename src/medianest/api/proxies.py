"""`ProxyHeaders`: behind a reverse proxy, the client is the proxy's X-Forwarded-For, not the proxy.

Only peers listed in `MEDIANEST_TRUSTED_PROXIES` are believed; anyone else could write any address
into the header and dodge the per-IP sign-in limit or forge the audit log. The client is the
rightmost address that is not itself a trusted proxy (the leftmost ones are whatever the client sent).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from starlette.types import ASGIApp, Receive, Scope, Send

_SCHEMES = {"http": {b"http": "http", b"https": "https"}, "websocket": {b"http": "ws", b"https": "wss"}}


class ProxyHeaders:
    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self.networks = [ip_network(n, strict=False) for n in trusted]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _SCHEMES and self._trusted(scope.get("client") and scope["client"][0]):
            self._apply(scope)
        await self.app(scope, receive, send)

    def _trusted(self, host: str | None) -> bool:
        address = _parse(host)
        return address is not None and any(address in net for net in self.networks)

    def _apply(self, scope: Scope) -> None:
        headers = dict(scope["headers"])
        forwarded = headers.get(b"x-forwarded-for")
        if forwarded:
            hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
            client = next((h for h in reversed(hops) if not self._trusted(h)), hops[0] if hops else None)
            if client and _parse(client) is not None:
                scope["client"] = (client, 0)
        proto = headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip().lower()
        if proto in _SCHEMES[scope["type"]]:
            scope["scheme"] = _SCHEMES[scope["type"]][proto]


def _parse(host: str | None) -> IPv4Address | IPv6Address | None:
    if not host:
        return None
    try:
        return ip_address(host)
    except ValueError:
        return None
