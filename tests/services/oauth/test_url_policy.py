"""The URL policy for discovered OAuth URLs, as a table over a fake DNS."""

from __future__ import annotations

import ipaddress

import pytest

from voice_mcp.services.oauth.url_policy import (
    IPAddress,
    Pinned,
    UrlPolicy,
    UrlRefused,
    Zone,
    resolve,
    zone_of,
)

DNS = {
    "mcp.example.com": ["93.184.216.34"],
    "auth.example.com": ["93.184.216.35", "2606:2800:220:1::35"],
    "localhost": ["127.0.0.1", "::1"],
    "intranet.corp": ["10.1.2.3"],
    "rebind.example.com": ["93.184.216.36", "10.0.0.9"],  # one public, one private answer
    "metadata.google.internal": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
    "nothing.example.com": [],
}


async def fake_resolver(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        return [ipaddress.ip_address(a) for a in DNS.get(host, [])]


PUBLIC_HTTPS = "https://mcp.example.com/mcp"
LOOPBACK_HTTP = "http://127.0.0.1:8931/mcp"
PRIVATE_HTTP = "http://10.1.2.3/mcp"


@pytest.mark.parametrize(("service", "url", "allowed"), [
    # https to public hosts: always fine
    (PUBLIC_HTTPS, "https://auth.example.com/token", True),
    (LOOPBACK_HTTP, "https://auth.example.com/.well-known/oauth-authorization-server", True),
    # plain http: only inside the operator's own non-public zone
    (PUBLIC_HTTPS, "http://auth.example.com/token", False),
    (LOOPBACK_HTTP, "http://auth.example.com/token", False),
    (LOOPBACK_HTTP, "http://127.0.0.1:9000/token", True),
    (LOOPBACK_HTTP, "http://localhost:9000/token", True),
    (LOOPBACK_HTTP, "http://[::1]:9000/token", True),
    (PRIVATE_HTTP, "http://intranet.corp/token", True),
    (PRIVATE_HTTP, "http://127.0.0.1/token", False),  # another zone than the service's
    # a public service never reaches into loopback or private networks, even over https
    (PUBLIC_HTTPS, "https://127.0.0.1/token", False),
    (PUBLIC_HTTPS, "https://localhost/token", False),
    (PUBLIC_HTTPS, "https://10.0.0.1/token", False),
    (PUBLIC_HTTPS, "https://192.168.1.1/token", False),
    (PUBLIC_HTTPS, "https://172.16.5.4/token", False),
    (PUBLIC_HTTPS, "https://[fd12:3456::1]/token", False),
    (PUBLIC_HTTPS, "https://100.64.0.1/token", False),  # carrier-grade NAT
    (PUBLIC_HTTPS, "https://intranet.corp/token", False),
    (PUBLIC_HTTPS, "https://rebind.example.com/token", False),  # any private answer refuses
    (PUBLIC_HTTPS, "https://[fe80::1]/token", False),
    (PUBLIC_HTTPS, "https://169.254.10.10/token", False),
    # cloud metadata: refused from everywhere, by address or by name
    (PUBLIC_HTTPS, "http://169.254.169.254/latest/meta-data/", False),
    (LOOPBACK_HTTP, "http://169.254.169.254/latest/meta-data/", False),
    (PRIVATE_HTTP, "http://169.254.169.254/latest/meta-data/", False),
    (PUBLIC_HTTPS, "https://metadata.google.internal/computeMetadata/v1/", False),
    (PUBLIC_HTTPS, "https://[fd00:ec2::254]/latest/", False),
    (PUBLIC_HTTPS, "https://100.100.100.200/latest/", False),
    (PUBLIC_HTTPS, "https://mapped.example.com/", False),
    (PUBLIC_HTTPS, "https://[::ffff:169.254.169.254]/", False),
    # never routable
    (PUBLIC_HTTPS, "https://0.0.0.0/token", False),
    (LOOPBACK_HTTP, "http://0.0.0.0:9000/token", False),
    (PUBLIC_HTTPS, "https://224.0.0.1/token", False),
    (PUBLIC_HTTPS, "https://240.0.0.1/token", False),
    # only http(s), with a host that resolves and no credentials
    (PUBLIC_HTTPS, "javascript:alert(document.cookie)", False),
    (PUBLIC_HTTPS, "data:text/html,<script>alert(1)</script>", False),
    (PUBLIC_HTTPS, "file:///etc/passwd", False),
    (PUBLIC_HTTPS, "ftp://auth.example.com/token", False),
    (PUBLIC_HTTPS, "https:///token", False),
    (PUBLIC_HTTPS, "https://user:pass@auth.example.com/token", False),
    (PUBLIC_HTTPS, "https://nothing.example.com/token", False),
    (PUBLIC_HTTPS, "https://auth.example.com:99999/token", False),
    (PUBLIC_HTTPS, "/relative/token", False),
])
async def test_discovered_urls(service: str, url: str, allowed: bool) -> None:
    policy = await UrlPolicy.for_service([service], fake_resolver)

    if allowed:
        assert await policy.check(url) == url
    else:
        with pytest.raises(UrlRefused):
            await policy.check(url)


async def test_a_service_configured_on_a_metadata_address_may_use_that_address() -> None:
    policy = await UrlPolicy.for_service(["http://169.254.169.254/mcp"], fake_resolver)

    assert await policy.check("http://169.254.169.254/token")
    with pytest.raises(UrlRefused):
        await policy.check("http://169.254.170.2/token")  # another metadata service


async def test_a_pinned_issuer_widens_the_zone_to_its_own_network() -> None:
    policy = await UrlPolicy.for_service([PUBLIC_HTTPS, "https://intranet.corp"], fake_resolver)

    assert await policy.check("https://intranet.corp/token")
    with pytest.raises(UrlRefused):
        await policy.check("https://127.0.0.1/token")


async def test_the_reason_names_the_address_not_a_secret() -> None:
    policy = await UrlPolicy.for_service([PUBLIC_HTTPS], fake_resolver)

    with pytest.raises(UrlRefused) as caught:
        await policy.check("https://user:hunter2@169.254.169.254/")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(UrlRefused) as caught:
        await policy.check("http://169.254.169.254/latest/")
    assert "metadata" in str(caught.value)


@pytest.mark.parametrize(("address", "zone"), [
    ("8.8.8.8", Zone.PUBLIC), ("127.0.0.2", Zone.LOOPBACK), ("::1", Zone.LOOPBACK),
    ("10.0.0.1", Zone.PRIVATE), ("fc00::1", Zone.PRIVATE), ("169.254.1.1", Zone.LINK_LOCAL),
    ("fe80::1", Zone.LINK_LOCAL), ("169.254.169.254", Zone.METADATA),
    ("fd00:ec2::254", Zone.METADATA), ("::ffff:127.0.0.1", Zone.LOOPBACK),
    ("0.0.0.0", Zone.FORBIDDEN), ("ff02::1", Zone.FORBIDDEN),
])
def test_zones(address: str, zone: Zone) -> None:
    assert zone_of(ipaddress.ip_address(address)) is zone


async def test_real_resolution_through_the_event_loop() -> None:
    assert ipaddress.ip_address("127.0.0.1") in await resolve("localhost", 80)
    assert await resolve("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]
    assert await resolve("name.invalid", 80) == []  # RFC 6761: never resolves


@pytest.mark.parametrize(("url", "pinned"), [
    ("https://auth.example.com/token",
     Pinned("https://93.184.216.35/token", {"Host": "auth.example.com"},
            {"sni_hostname": "auth.example.com"})),
    ("https://auth.example.com:8443/t?x=1",
     Pinned("https://93.184.216.35:8443/t?x=1", {"Host": "auth.example.com:8443"},
            {"sni_hostname": "auth.example.com"})),
    ("http://localhost:9000/token",
     Pinned("http://127.0.0.1:9000/token", {"Host": "localhost:9000"}, {})),
    ("http://127.0.0.1:9000/token", Pinned("http://127.0.0.1:9000/token")),
    ("http://[::1]:9000/token", Pinned("http://[::1]:9000/token")),
])
async def test_requests_go_to_the_vetted_address(url: str, pinned: Pinned) -> None:
    policy = await UrlPolicy.for_service([LOOPBACK_HTTP], fake_resolver)

    assert await policy.pin(url) == pinned


async def test_an_ipv6_answer_is_bracketed() -> None:
    async def v6_only(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("2606:2800:220:1::35")]

    policy = await UrlPolicy.for_service([PUBLIC_HTTPS], fake_resolver)
    pinned = await UrlPolicy(policy.zones, policy.addresses, v6_only).pin("https://a.example/x")

    assert pinned.url == "https://[2606:2800:220:1::35]/x"
