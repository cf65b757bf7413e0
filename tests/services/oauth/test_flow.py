"""Connecting a service: authorization URL, callback checks, code exchange, hooks."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.oauth_server import OAuthServers
from tests.services.oauth.conftest import (
    REDIRECT_URI,
    Clock,
    browser_complete,
    browser_start,
    connect,
)
from voice_mcp.errors import NotConnected, NotFound
from voice_mcp.services.oauth import CallbackError, OAuthService
from voice_mcp.settings import Settings


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_whole_flow_with_dynamic_registration(make_oauth: Callable[..., OAuthService],
                                                    oauth_servers: OAuthServers) -> None:
    connected: list[tuple[str, str]] = []

    async def on_connected(user_id: str, service_id: str) -> None:
        connected.append((user_id, service_id))

    oauth = make_oauth(on_connected=on_connected)
    url = await browser_start(oauth, "alice", "notes")

    params = query(url)
    assert url.startswith(f"{oauth_servers.issuer}/authorize?")
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43  # 256 random bits, url-safe
    assert params["resource"] == oauth_servers.mcp_url
    assert params["scope"] == "notes.read notes.write"
    assert params["redirect_uri"] == REDIRECT_URI
    client = oauth_servers.auth_server.storage.clients[params["client_id"]]
    assert client.token_endpoint_auth_method == "none"
    assert client.redirect_uris == [REDIRECT_URI]

    callback = query(await oauth_servers.authorize(url, "alice"))
    assert callback["state"] == params["state"]
    result = await browser_complete(oauth, callback["code"], callback["state"])

    assert (result.user_id, result.service_id, result.service_title) == ("alice", "notes", "Notes")
    assert connected == [("alice", "notes")]
    status = await oauth.status("alice")
    assert status["notes"].connected and not status["notes"].needs_reauth
    token = await oauth.access_token("alice", oauth_servers.service())
    assert await oauth_servers.whoami(token) == "alice"
    exchange = oauth_servers.auth_server.token_requests[-1]
    assert exchange == {"grant_type": "authorization_code", "resource": oauth_servers.mcp_url,
                        "client_id": params["client_id"]}


async def test_registered_client_is_reused(oauth: OAuthService,
                                           oauth_servers: OAuthServers) -> None:
    first = query(await browser_start(oauth, "alice", "notes"))["client_id"]
    second = query(await browser_start(oauth, "bob", "notes"))["client_id"]

    assert first == second
    assert oauth_servers.auth_server.counts["register"] == 1


@pytest.mark.parametrize("secret", ["s3cret-value-for-static-client", None])
async def test_whole_flow_with_static_client(make_oauth, oauth_servers: OAuthServers,
                                             monkeypatch: pytest.MonkeyPatch,
                                             secret: str | None) -> None:
    oauth_servers.auth_server.add_client("static-notes", REDIRECT_URI, secret=secret)
    monkeypatch.setenv("NOTES_CLIENT_ID", "static-notes")
    if secret:
        monkeypatch.setenv("NOTES_CLIENT_SECRET", secret)
    else:
        monkeypatch.delenv("NOTES_CLIENT_SECRET", raising=False)
    service = oauth_servers.service(client_id_env="NOTES_CLIENT_ID",
                                    client_secret_env="NOTES_CLIENT_SECRET",
                                    issuer=oauth_servers.issuer)
    oauth = make_oauth(oauth_servers.catalog(service))

    url = await browser_start(oauth, "alice", "notes")
    assert query(url)["client_id"] == "static-notes"
    await browser_complete(oauth, **{k: v for k, v in
                            (await oauth_servers.authorize_params(url, "alice")).items()
                            if k in ("code", "state")})

    assert oauth_servers.auth_server.counts["register"] == 0
    token = await oauth.access_token("alice", service)
    assert await oauth_servers.whoami(token) == "alice"


async def test_server_verifies_pkce(oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    url = await browser_start(oauth, "alice", "notes")
    params = query(url)
    callback = await oauth_servers.authorize_params(url, "alice")
    token_endpoint = f"{oauth_servers.issuer}/token"
    form = {"grant_type": "authorization_code", "code": callback["code"],
            "redirect_uri": REDIRECT_URI, "client_id": params["client_id"],
            "resource": oauth_servers.mcp_url}

    async with httpx2.AsyncClient() as http:
        wrong = await http.post(token_endpoint, data={**form, "code_verifier": "x" * 64})
        missing = await http.post(token_endpoint, data=form)

    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    # The service's own exchange carries the right verifier, so the same code still works.
    await browser_complete(oauth, callback["code"], callback["state"])
    assert (await oauth.status("alice"))["notes"].connected


async def test_tampered_state_is_refused_and_nothing_stored(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")
    tampered = callback["state"][:-2] + ("AA" if not callback["state"].endswith("AA") else "BB")

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, callback["code"], tampered)

    assert caught.value.code == "invalid_state" and caught.value.status == 400
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert not (await oauth.status("alice"))["notes"].connected
    with pytest.raises(NotConnected):
        await oauth.access_token("alice", oauth_servers.service())


async def test_missing_state_is_refused(oauth: OAuthService) -> None:
    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, "some-code", None)
    assert caught.value.code == "invalid_state"


async def test_replayed_state_is_refused(oauth: OAuthService,
                                         oauth_servers: OAuthServers) -> None:
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")
    await browser_complete(oauth, callback["code"], callback["state"])

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, callback["code"], callback["state"])

    assert caught.value.code == "invalid_state"
    assert oauth_servers.auth_server.counts["authorization_code"] == 1


async def test_expired_state_is_refused_and_nothing_stored(
        make_oauth, oauth_servers: OAuthServers) -> None:
    clock = Clock()
    oauth = make_oauth(clock=clock, state_ttl_s=600)
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")
    clock.now += 601

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, callback["code"], callback["state"])

    assert caught.value.code == "state_expired" and caught.value.service_id == "notes"
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert not (await oauth.status("alice"))["notes"].connected


async def test_state_just_before_expiry_is_accepted(make_oauth,
                                                    oauth_servers: OAuthServers) -> None:
    clock = Clock()
    oauth = make_oauth(clock=clock, state_ttl_s=600)
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")
    clock.now += 599

    await browser_complete(oauth, callback["code"], callback["state"])

    assert (await oauth.status("alice"))["notes"].connected


async def test_state_is_bound_to_the_user_who_started(oauth: OAuthService,
                                                      oauth_servers: OAuthServers) -> None:
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, callback["code"], callback["state"], user_id="mallory")

    assert caught.value.code == "invalid_state"
    assert not (await oauth.status("mallory"))["notes"].connected
    assert not (await oauth.status("alice"))["notes"].connected


async def test_provider_denial_is_reported_and_nothing_stored(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    url = await browser_start(oauth, "alice", "notes")
    callback = await oauth_servers.authorize_params(url, "alice", deny=True)
    assert callback["error"] == "access_denied" and "code" not in callback

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, None, callback["state"], callback["error"])

    assert caught.value.code == "oauth_denied" and caught.value.service_id == "notes"
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert not (await oauth.status("alice"))["notes"].connected


async def test_other_provider_errors_are_reported_without_their_text(
        oauth: OAuthService) -> None:
    first = query(await browser_start(oauth, "alice", "notes"))["state"]
    second = query(await browser_start(oauth, "alice", "notes"))["state"]

    with pytest.raises(CallbackError) as known:
        await browser_complete(oauth, None, first, "temporarily_unavailable")
    with pytest.raises(CallbackError) as odd:
        await browser_complete(oauth, None, second, "<script>alert(1)</script>")

    assert known.value.code == "oauth_failed" and "temporarily_unavailable" in known.value.message
    assert odd.value.code == "oauth_failed" and "script" not in odd.value.message


async def test_refused_code_is_reported_and_nothing_stored(oauth: OAuthService,
                                                           oauth_servers: OAuthServers) -> None:
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, "not-the-code", callback["state"])

    assert caught.value.code == "oauth_failed" and "invalid_grant" in caught.value.message
    assert not (await oauth.status("alice"))["notes"].connected


async def test_unknown_and_non_oauth_services_are_not_found(make_oauth,
                                                            oauth_servers: OAuthServers) -> None:
    plain = oauth_servers.service("open", auth="none")
    oauth = make_oauth(oauth_servers.catalog(oauth_servers.service(), plain))

    for call, code in ((oauth.start("alice", "nope"), "service_not_found"),
                       (oauth.start("alice", "open"), "service_not_oauth"),
                       (oauth.disconnect("alice", "open"), "service_not_oauth")):
        with pytest.raises(NotFound) as caught:
            await call
        assert caught.value.code == code


async def test_status_lists_every_service(make_oauth, oauth_servers: OAuthServers) -> None:
    plain = oauth_servers.service("open", auth="none")
    oauth = make_oauth(oauth_servers.catalog(oauth_servers.service(), plain))
    await connect(oauth, oauth_servers, "alice")

    alice, bob = await oauth.status("alice"), await oauth.status("bob")

    assert (alice["notes"].auth, alice["notes"].connected) == ("oauth", True)
    assert (bob["notes"].auth, bob["notes"].connected) == ("oauth", False)
    assert (alice["open"].auth, alice["open"].connected, alice["open"].needs_reauth) == (
        "none", True, False)


async def test_failing_hook_does_not_undo_the_connection(
        make_oauth: Callable[..., OAuthService], oauth_servers: OAuthServers) -> None:
    async def broken(user_id: str, service_id: str) -> None:
        raise RuntimeError("listener bug")

    oauth = make_oauth(on_connected=broken)
    await connect(oauth, oauth_servers, "alice")

    assert (await oauth.status("alice"))["notes"].connected


async def test_the_start_link_works_for_a_short_while_only(make_oauth) -> None:
    clock = Clock()
    oauth = make_oauth(clock=clock, state_ttl_s=600)
    link = await oauth.start("alice", "notes")
    clock.now += 121

    with pytest.raises(CallbackError) as caught:
        await oauth.open_start(query(link)["state"])

    assert caught.value.code == "state_expired"


async def test_a_callback_without_the_browser_secret_stores_nothing(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    callback = await oauth_servers.authorize_params(await browser_start(oauth, "alice"), "alice")

    with pytest.raises(CallbackError) as caught:
        await oauth.complete(callback["code"], callback["state"], browser_secret=None)

    assert caught.value.code == "browser_mismatch"
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert not (await oauth.status("alice"))["notes"].connected


async def test_the_cookie_follows_the_public_url(redis_client, oauth_servers: OAuthServers,
                                                 token_key: str) -> None:
    settings = Settings(_env_file=None, token_key=token_key,
                        public_url="https://voice.example/assistant")
    oauth = OAuthService(settings, oauth_servers.catalog(), redis_client)
    try:
        link = await oauth.start("alice", "notes")
        assert link.startswith("https://voice.example/assistant/oauth/start?state=")
        assert oauth.cookie_path == "/assistant/oauth/callback" and oauth.cookie_secure
    finally:
        await oauth.close()


async def test_registration_names_the_application_type(oauth: OAuthService,
                                                       oauth_servers: OAuthServers) -> None:
    """SEP-837: a loopback http callback is a `native` client's; an https one a `web` one's."""
    await browser_start(oauth, "alice", "notes")

    [body] = oauth_servers.auth_server.registrations
    assert body["application_type"] == "native"
    assert body["redirect_uris"] == [REDIRECT_URI]


def test_an_https_callback_registers_as_a_web_application() -> None:
    from voice_mcp.services.oauth.registration import application_type

    assert application_type("https://voice.example/oauth/callback") == "web"
    assert application_type("http://127.0.0.1:8080/oauth/callback") == "native"


async def test_iss_is_compared_exactly(oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    """RFC 9207: the issuer with a trailing slash added is another string, so a mix-up."""
    url = await browser_start(oauth, "alice", "notes")
    callback = query(await oauth_servers.authorize(url, "alice"))

    with pytest.raises(CallbackError) as caught:
        await browser_complete(oauth, callback["code"], callback["state"],
                               iss=oauth_servers.issuer + "/")

    assert caught.value.code == "issuer_mismatch"
    assert not (await oauth.status("alice"))["notes"].connected


async def test_a_step_up_asks_again_for_the_union_of_held_and_required_scopes(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    """SEP-2350: after a 403 insufficient_scope the user is asked to connect again, and the new
    authorization request keeps what was granted and adds what the server asked for."""
    await connect(oauth, oauth_servers, "alice")

    await oauth.insufficient_scope("alice", oauth_servers.service(), ["notes.admin"])

    status = (await oauth.status("alice"))["notes"]
    assert status.connected and status.needs_reauth
    assert await oauth.access_token("alice", oauth_servers.service())  # still usable meanwhile
    url = await browser_start(oauth, "alice", "notes")
    assert query(url)["scope"] == "notes.read notes.write notes.admin"
    # Another user is not affected.
    assert query(await browser_start(oauth, "bob", "notes"))["scope"] == "notes.read notes.write"
