# mypy: allow-subclassing-any
# (authlib ships no type hints, and this module is built on subclassing it)
"""A real OAuth 2.1 authorization server for the tests: authlib's server, aiohttp handlers.

Authorization code + PKCE (S256 only, required), refresh with rotation, RFC 7009
revocation, RFC 7591 registration, RFC 8414 metadata, RFC 8707 resource indicators.
The authorize endpoint approves at once for the user named by the `X-Test-User` header or
the `test_user` query parameter, and answers `error=access_denied` when `deny` is set or
the request carries `X-Test-Deny: 1` / `test_deny=1`. A browser (Accept: text/html) that names
nobody gets a consent page instead: a form with the user name and Allow / Deny buttons.
"""

from __future__ import annotations

import html
import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidRequestError,
    JsonPayload,
    JsonRequest,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from multidict import MultiDict

from tests.oauth_server.models import AuthorizationCode, Client, Storage, Token

AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]


class InvalidTargetError(OAuth2Error):
    """RFC 8707: the `resource` is missing, unknown or not the one the code was issued for."""

    error = "invalid_target"


# -- aiohttp <-> authlib request adapters ---------------------------------------------------


class _Payload(OAuth2Payload):
    def __init__(self, values: MultiDict[str]) -> None:
        self._data = {key: values.getone(key) for key in values}
        self._datalist = defaultdict(list, {key: values.getall(key) for key in values})

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class AiohttpOAuth2Request(OAuth2Request):
    """An authlib request built from an aiohttp request whose body was read already."""

    def __init__(self, request: web.Request, form: Mapping[str, object] | None = None) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query)
        self._form = {k: v for k, v in (form or {}).items() if isinstance(v, str)}
        values: MultiDict[str] = MultiDict(request.query)
        values.extend({k: v for k, v in (form or {}).items() if isinstance(v, str)})
        self.payload = _Payload(values)

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class _JsonPayload(JsonPayload):
    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def data(self):
        return self._data


class AiohttpJsonRequest(JsonRequest):
    def __init__(self, request: web.Request, data: Any) -> None:
        super().__init__(request.method, str(request.url), request.headers)
        self.payload = _JsonPayload(data)


# -- grants and endpoints -------------------------------------------------------------------


class S256Required(CodeChallenge):
    """OAuth 2.1: every authorization request carries an S256 challenge."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge'", redirect_uri=redirect_uri)
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @property
    def test_server(self) -> TestAuthorizationServer:
        return self.server.test_server

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        resource = self.request.payload.data.get("resource")
        if resource not in self.test_server.resources:
            raise InvalidTargetError(redirect_uri=redirect_uri)
        return redirect_uri

    def validate_token_request(self):
        super().validate_token_request()
        resource = self.request.form.get("resource")
        if resource is not None and resource != self.request.authorization_code.resource:
            raise InvalidTargetError()

    def save_authorization_code(self, code, request):
        data = request.payload.data
        self.test_server.storage.codes[code] = AuthorizationCode(
            code=code, client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            user=request.user, code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            resource=data.get("resource"),
        )

    def query_authorization_code(self, code, client):
        item = self.test_server.storage.codes.get(code)
        if item is not None and item.client_id == client.client_id:
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        self.test_server.storage.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @property
    def test_server(self) -> TestAuthorizationServer:
        return self.server.test_server

    def authenticate_refresh_token(self, refresh_token):
        if self.test_server.fail_refresh:
            return None  # -> invalid_grant
        token = self.test_server.storage.by_refresh(refresh_token)
        if token is None or token.refresh_revoked:
            return None
        return token

    def authenticate_user(self, refresh_token):
        return refresh_token.user

    def issue_token(self, user, refresh_token):
        self.INCLUDE_NEW_REFRESH_TOKEN = self.test_server.rotate_refresh_tokens
        return super().issue_token(user, refresh_token)

    def revoke_old_credential(self, refresh_token):
        if self.test_server.rotate_refresh_tokens:
            refresh_token.refresh_revoked = True


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        storage = self.server.test_server.storage
        if token_type_hint == "access_token":
            return storage.by_access(token_string)
        if token_type_hint == "refresh_token":
            return storage.by_refresh(token_string)
        return storage.by_access(token_string) or storage.by_refresh(token_string)

    def revoke_token(self, token, request):
        test_server = self.server.test_server
        hint = request.form.get("token_type_hint")
        test_server.revocations.append(hint or "")
        if hint == "access_token":
            token.access_revoked = True
            return
        # RFC 7009 2.1: revoking a refresh token ends the whole grant.
        for other in test_server.storage.tokens:
            if other.grant_id == token.grant_id:
                other.access_revoked = other.refresh_revoked = True


class Registration(ClientRegistrationEndpoint):
    def authenticate_token(self, request):
        return True  # open registration, as MCP clients expect

    def get_server_metadata(self):
        return self.server.test_server.metadata()

    def save_client(self, client_info, client_metadata, request):
        method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
        client = Client(
            client_id=client_info["client_id"],
            client_secret=None if method == "none" else client_info["client_secret"],
            redirect_uris=list(client_metadata.get("redirect_uris", [])),
            token_endpoint_auth_method=method,
            grant_types=list(client_metadata.get("grant_types", ["authorization_code"])),
            response_types=list(client_metadata.get("response_types", ["code"])),
            scope=client_metadata.get("scope", ""),
        )
        self.server.test_server.storage.clients[client.client_id] = client
        return client


class _Server(AuthorizationServer):
    """authlib's server, answering with aiohttp responses."""

    def __init__(self, test_server: TestAuthorizationServer) -> None:
        super().__init__(scopes_supported=test_server.scopes)
        self.test_server = test_server

    def query_client(self, client_id):
        return self.test_server.storage.clients.get(client_id)

    def save_token(self, token, request):
        if request.refresh_token is not None:  # a refresh: same grant, same resource
            resource, grant_id = request.refresh_token.resource, request.refresh_token.grant_id
        else:
            resource = request.authorization_code.resource
            grant_id = secrets.token_hex(8)
        self.test_server.storage.tokens.append(Token(
            access_token=token["access_token"], refresh_token=token.get("refresh_token"),
            client_id=request.client.client_id, user=request.user,
            scope=token.get("scope", ""), resource=resource, grant_id=grant_id,
            expires_in=token["expires_in"],
        ))

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        text = json.dumps(body) if isinstance(body, dict) else body
        response = web.Response(status=status, text=text)
        for name, value in headers:
            response.headers[name] = value
        return response

    def send_signal(self, name, *args, **kwargs):
        pass


# -- the server and its knobs -----------------------------------------------------------------


CONSENT_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test sign-in</title></head><body><h1>Test authorization server</h1>
<p>An application asks to use your notes ({scope}).</p>
<form method="get" action="/authorize">{hidden}
<label>User <input name="test_user" value="alice"></label>
<button type="submit" id="allow">Allow</button>
<button type="submit" id="deny" name="test_deny" value="1">Deny</button>
</form></body></html>"""


def _consent_page(request: web.Request) -> web.Response:
    """The page a person sees at /authorize: the same query, plus who they are."""
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in request.query.items() if k not in ("test_user", "test_deny"))
    body = CONSENT_PAGE.format(scope=html.escape(request.query.get("scope", "")), hidden=hidden)
    return web.Response(text=body, content_type="text/html")


class TestAuthorizationServer:
    """State, knobs and counters of one running test authorization server."""

    __test__ = False  # not a pytest test class

    def __init__(self, issuer: str, *, scopes: list[str] | None = None,
                 resources: list[str] | None = None) -> None:
        self.issuer = issuer
        self.scopes = scopes or ["notes.read", "notes.write"]
        self.resources: list[str] = list(resources or [])  # accepted RFC 8707 resources
        self.storage = Storage()
        # knobs
        self.access_token_lifetime = 3600
        self.rotate_refresh_tokens = True
        self.fail_refresh = False
        self.deny = False
        self.registration_enabled = True
        self.revocation_enabled = True
        self.metadata_style = "oauth"  # "oauth": RFC 8414 URL only; "openid": OIDC URL only
        self.token_endpoint_auth_methods = list(AUTH_METHODS)
        self.issuer_override: str | None = None  # metadata claiming another issuer (mix-up)
        self.metadata_overrides: dict[str, Any] = {}  # hostile fields merged into the metadata
        self.hosts_seen: list[str] = []  # Host headers of /protected-resource requests
        # what happened
        self.counts: Counter[str] = Counter()
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []  # grant_type, resource, client_id
        self.registrations: list[Any] = []  # RFC 7591 request bodies, as received
        self.revocations: list[str] = []  # the token_type_hint of each revocation
        self._server = self._build()

    def _build(self) -> _Server:
        server = _Server(self)
        server.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: generate_token(42),
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: self.access_token_lifetime,
        ))
        server.register_grant(CodeGrant, [S256Required(required=True)])
        server.register_grant(RefreshGrant)
        server.register_endpoint(Revocation)
        server.register_endpoint(Registration(server))
        return server

    # -- helpers for tests --

    def add_client(self, client_id: str, redirect_uri: str, *, secret: str | None = None,
                   method: str | None = None) -> Client:
        """Register a static (pre-arranged) client."""
        client = Client(client_id=client_id, client_secret=secret, redirect_uris=[redirect_uri],
                        token_endpoint_auth_method=method or (
                            "client_secret_post" if secret else "none"))
        self.storage.clients[client_id] = client
        return client

    def tokens_of(self, user: str) -> list[Token]:
        return [t for t in self.storage.tokens if t.user == user]

    def expire_access_tokens(self, user: str | None = None) -> None:
        """Make the resource server refuse the current access tokens (as if they expired)."""
        for token in self.storage.tokens:
            if user is None or token.user == user:
                token.access_revoked = True

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "issuer": self.issuer_override or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "scopes_supported": self.scopes,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": self.token_endpoint_auth_methods,
            "code_challenge_methods_supported": ["S256"],
        }
        if self.registration_enabled:
            data["registration_endpoint"] = f"{self.issuer}/register"
        if self.revocation_enabled:
            data["revocation_endpoint"] = f"{self.issuer}/revoke"
            data["revocation_endpoint_auth_methods_supported"] = self.token_endpoint_auth_methods
        AuthorizationServerMetadata(data).validate()
        return {**data, **self.metadata_overrides}

    # -- aiohttp handlers --

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/oauth-authorization-server", self._oauth_metadata)
        app.router.add_get("/.well-known/openid-configuration", self._openid_metadata)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/revoke", self._revoke)
        app.router.add_post("/register", self._register)
        # For hostile-server tests: a redirect to a canary, and RFC 9728 metadata naming this
        # server as the authorization server of the first accepted resource.
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/canary", self._canary)
        app.router.add_get("/protected-resource", self._protected_resource)
        return app

    async def _redirect(self, request: web.Request) -> web.Response:
        self.counts["redirect"] += 1
        raise web.HTTPFound(f"{self.issuer}/canary")

    async def _canary(self, request: web.Request) -> web.Response:
        self.counts["canary"] += 1
        return web.json_response({"resource": self.resources[0] if self.resources else "",
                                  "authorization_servers": [self.issuer]})

    async def _protected_resource(self, request: web.Request) -> web.Response:
        self.counts["protected_resource"] += 1
        self.hosts_seen.append(request.host)
        return web.json_response({"resource": self.resources[0],
                                  "authorization_servers": [self.issuer]})

    async def _oauth_metadata(self, request: web.Request) -> web.Response:
        self.counts["metadata"] += 1
        if self.metadata_style != "oauth":
            raise web.HTTPNotFound()
        return web.json_response(self.metadata())

    async def _openid_metadata(self, request: web.Request) -> web.Response:
        self.counts["metadata"] += 1
        if self.metadata_style != "openid":
            raise web.HTTPNotFound()
        return web.json_response({**self.metadata(), "subject_types_supported": ["public"]})

    async def _authorize(self, request: web.Request) -> web.Response:
        self.counts["authorize"] += 1
        self.authorize_requests.append(dict(request.query))
        user = request.headers.get("X-Test-User") or request.query.get("test_user")
        deny = self.deny or "1" in (request.headers.get("X-Test-Deny"),
                                    request.query.get("test_deny"))
        if not user and not deny:
            if "text/html" in request.headers.get("Accept", ""):
                return _consent_page(request)
            return web.Response(status=401, text="no test user (X-Test-User header)")
        oauth_request = AiohttpOAuth2Request(request)
        try:
            grant = self._server.get_consent_grant(oauth_request, end_user=user)
        except OAuth2Error as error:
            return self._server.handle_error_response(oauth_request, error)
        return self._server.create_authorization_response(
            oauth_request, grant_user=None if deny else user, grant=grant)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        self.counts[grant_type] += 1
        self.token_requests.append({"grant_type": grant_type,
                                    "resource": str(form.get("resource", "")),
                                    "client_id": str(form.get("client_id", ""))})
        return self._server.create_token_response(AiohttpOAuth2Request(request, form))

    async def _revoke(self, request: web.Request) -> web.Response:
        if not self.revocation_enabled:
            raise web.HTTPNotFound()
        self.counts["revoke"] += 1
        form = await request.post()
        return self._server.create_endpoint_response("revocation",
                                                     AiohttpOAuth2Request(request, form))

    async def _register(self, request: web.Request) -> web.Response:
        if not self.registration_enabled:
            raise web.HTTPNotFound()
        self.counts["register"] += 1
        try:
            data = await request.json()
        except ValueError:
            data = None
        self.registrations.append(data)
        return self._server.create_endpoint_response("client_registration",
                                                     AiohttpJsonRequest(request, data))
