"""Bearer tokens: HS256 and JWKS (RS256/ES256); every bad token is refused."""

from __future__ import annotations

import base64
import json
import time

import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from voice_mcp.errors import Unauthorized
from voice_mcp.services.auth import TokenVerifier, issue_dev_token
from voice_mcp.settings import Settings

SECRET = "s" * 40


def _settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg, arg-type]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_hs256_round_trip() -> None:
    settings = _settings(jwt_secret=SECRET, jwt_audience="voice")
    token = issue_dev_token(settings, "alice")
    assert await TokenVerifier(settings).verify(token) == "alice"


def _hs(claims: dict[str, object], secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode({"alg": alg}, claims, OctKey.import_key(secret))


NOW = int(time.time())
BAD_TOKENS = {
    "malformed": "not-a-jwt",
    "garbage segments": "a.b.c",
    "bad signature": _hs({"sub": "u", "exp": NOW + 60}, secret="t" * 40),
    "expired": _hs({"sub": "u", "exp": NOW - 3600}),
    "no exp": _hs({"sub": "u"}),
    "no sub": _hs({"exp": NOW + 60}),
    "wrong audience": _hs({"sub": "u", "exp": NOW + 60, "aud": "other"}),
    "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"sub": "u", "exp": NOW + 60})
    + ".",
    "alg RS256 claimed on an HS key": _b64({"alg": "RS256"}) + "." + _b64({"sub": "u"}) + ".x",
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
async def test_bad_tokens_are_refused(name: str) -> None:
    verifier = TokenVerifier(_settings(jwt_secret=SECRET, jwt_audience="voice"))
    with pytest.raises(Unauthorized):
        await verifier.verify(BAD_TOKENS[name])


@pytest.fixture
async def jwks_server(aiohttp_server):  # type: ignore[no-untyped-def]
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r1"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "e1"})
    state = {"keys": [rsa.as_dict(private=False), ec.as_dict(private=False)], "hits": 0}

    async def jwks(_request: web.Request) -> web.Response:
        state["hits"] += 1  # type: ignore[operator]
        return web.json_response({"keys": state["keys"]})

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    server = await aiohttp_server(app)
    return server, rsa, ec, state


def _signed(key: RSAKey | ECKey, alg: str, **claims: object) -> str:
    base: dict[str, object] = {"sub": "bob", "exp": int(time.time()) + 60, "iss": "https://idp",
                               "aud": "voice"}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid}, base, key)


async def test_jwks_rs256_and_es256_with_issuer_and_audience(jwks_server) -> None:
    server, rsa, ec, state = jwks_server
    verifier = TokenVerifier(_settings(jwt_jwks_url=str(server.make_url("/jwks.json")),
                                       jwt_issuer="https://idp", jwt_audience="voice"))
    assert await verifier.verify(_signed(rsa, "RS256")) == "bob"
    assert await verifier.verify(_signed(ec, "ES256", sub="carol")) == "carol"
    assert state["hits"] == 1, "the JWKS is cached"
    with pytest.raises(Unauthorized):
        await verifier.verify(_signed(rsa, "RS256", iss="https://evil"))
    with pytest.raises(Unauthorized):
        await verifier.verify(_signed(rsa, "RS256", aud="other"))
    # An HS256 token signed with the public key material must not pass as RS256.
    with pytest.raises(Unauthorized):
        await verifier.verify(_hs({"sub": "x", "exp": NOW + 60}))


async def test_jwks_refetched_for_a_rotated_key(jwks_server) -> None:
    server, _rsa, _ec, state = jwks_server
    verifier = TokenVerifier(_settings(jwt_jwks_url=str(server.make_url("/jwks.json")),
                                       jwt_issuer="https://idp", jwt_audience="voice"))
    await verifier._jwks.get()  # type: ignore[union-attr]
    verifier._jwks._fetched_at -= 60  # type: ignore[union-attr]  # past the refetch rate limit
    new = RSAKey.generate_key(2048, parameters={"kid": "r2"})
    state["keys"] = [new.as_dict(private=False)]
    assert await verifier.verify(_signed(new, "RS256")) == "bob"
    assert state["hits"] == 2


@pytest.mark.parametrize(("settings", "needle"), [
    ({"jwt_secret": "s" * 31}, "at least 32 bytes"),
    ({"jwt_jwks_url": "https://idp/jwks.json"}, "VOICE_MCP_JWT_ISSUER"),
    ({"jwt_jwks_url": "https://idp/jwks.json", "jwt_issuer": "https://idp"},
     "VOICE_MCP_JWT_AUDIENCE"),
    ({"jwt_jwks_url": "https://idp/jwks.json", "jwt_audience": "voice"}, "VOICE_MCP_JWT_ISSUER"),
], ids=["short secret", "jwks alone", "jwks without audience", "jwks without issuer"])
def test_weak_client_auth_refuses_to_start(settings: dict[str, str], needle: str) -> None:
    """Issue 10.7: one line naming what to set, from the same loader `serve` uses."""
    from voice_mcp.settings import ConfigError, load_settings

    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, **settings)
    assert needle in str(caught.value) and "\n" not in str(caught.value)
