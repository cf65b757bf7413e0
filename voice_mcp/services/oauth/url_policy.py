"""Which URLs a remote MCP server may make this server fetch or send a browser to.

Discovery reads URLs from documents a remote server controls (RFC 9728 / RFC 8414), so each
one is checked before use (docs/oauth.md, "URL policy"):

- only `http` and `https`, with a host and without credentials;
- the host is resolved (the event loop's getaddrinfo) and every address is classified;
  public addresses are fine, loopback / private / link-local ones only when the service
  URL the operator configured (or the issuer pinned in the catalog) lives in that same
  zone, cloud-metadata addresses only when the operator configured that very address,
  and unspecified / multicast / reserved addresses never;
- plain `http` only inside the operator's own non-public zone (a loopback service may
  discover loopback endpoints), never towards a public address.

`pin` also answers the request to make: to the vetted address itself (Host header and TLS
server name kept), so a DNS server cannot answer differently when the client connects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

# Instance-metadata services of the large clouds: credentials live behind these.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "fd00:ec2::254",
    "100.100.100.200", "168.63.129.16", "192.0.0.192",
))


class Zone(StrEnum):
    """Where an address lives, from most to least trusted for an outbound request."""

    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    METADATA = "metadata"
    FORBIDDEN = "forbidden"  # unspecified, multicast, reserved: never a real server


class UrlRefused(Exception):
    """A discovered URL breaks the policy; the message says why (no secrets in it)."""


def zone_of(address: IPAddress) -> Zone:
    """Classify one address (IPv4-mapped IPv6 addresses count as their IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return Zone.METADATA
    if address.is_loopback:  # before "reserved": ::1 lies in the reserved ::/8
        return Zone.LOOPBACK
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return Zone.FORBIDDEN
    if address.is_link_local:
        return Zone.LINK_LOCAL
    if address.is_private or not address.is_global:
        return Zone.PRIVATE  # RFC 1918, ULA, CGNAT, documentation ranges...
    return Zone.PUBLIC


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, through the running loop's getaddrinfo."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    # sockaddr[0] may carry an IPv6 scope ("fe80::1%eth0"): the scope is not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _host_port(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; UrlRefused for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("it is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are accepted")
    if not parts.hostname:
        raise UrlRefused("it has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("it carries credentials")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


@dataclass(frozen=True)
class Pinned:
    """A request target bound to a vetted address: send to `url` with these extras."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def _pinned(url: str, address: IPAddress) -> Pinned:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return Pinned(url)  # already an address
    except ValueError:
        pass
    literal = f"[{address}]" if address.version == 6 else str(address)
    port = f":{parts.port}" if parts.port else ""
    target = urlunsplit(parts._replace(netloc=literal + port))
    extensions = {"sni_hostname": host} if parts.scheme.lower() == "https" else {}
    return Pinned(target, {"Host": host + port}, extensions)


@dataclass(frozen=True)
class UrlPolicy:
    """The policy for one service, built from the URLs its operator configured."""

    zones: frozenset[Zone]  # zones the operator's own URLs resolve into
    addresses: frozenset[IPAddress]  # the operator's own addresses (metadata exception)
    resolver: Resolver = resolve

    @classmethod
    async def for_service(cls, configured: Iterable[str],
                          resolver: Resolver = resolve) -> UrlPolicy:
        """The policy of a service whose operator configured `configured` URLs."""
        zones: set[Zone] = set()
        addresses: set[IPAddress] = set()
        for url in configured:
            _, host, port = _host_port(url)
            found = await resolver(host, port)
            addresses.update(found)
            zones.update(zone_of(a) for a in found)
        return cls(frozenset(zones), frozenset(addresses), resolver)

    async def check(self, url: str) -> str:
        """Return `url` when it may be used, else raise UrlRefused."""
        await self._vetted(url)
        return url

    async def pin(self, url: str) -> Pinned:
        """Check `url` and bind the request to the first address that was checked."""
        return _pinned(url, (await self._vetted(url))[0])

    async def _vetted(self, url: str) -> list[IPAddress]:
        scheme, host, port = _host_port(url)
        found = await self.resolver(host, port)
        if not found:
            raise UrlRefused(f"its host {host!r} does not resolve")
        for address in found:
            self._check_address(address, scheme)
        return found

    def _check_address(self, address: IPAddress, scheme: str) -> None:
        zone = zone_of(address)
        if zone is Zone.FORBIDDEN:
            raise UrlRefused(f"it points at a non-routable address ({address})")
        if zone is Zone.METADATA and address not in self.addresses:
            raise UrlRefused(f"it points at a cloud metadata address ({address})")
        if zone not in (Zone.PUBLIC, Zone.METADATA) and zone not in self.zones:
            raise UrlRefused(f"it points at a {zone} address ({address}) outside the"
                             " service's own network")
        if scheme == "http" and (zone is Zone.PUBLIC or zone not in self.zones):
            raise UrlRefused("it is plain http outside the service's own network; https"
                             " is required")
