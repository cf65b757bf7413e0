"""The OAuth client of a service: static from the environment, or RFC 7591 registration."""

from __future__ import annotations

import os

import httpx2

from voice_mcp.errors import ServiceUnavailable
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.oauth.discovery import pin
from voice_mcp.services.oauth.errors import discovery_failed, safe_code
from voice_mcp.services.oauth.models import AuthServerMetadata, ClientInfo, ResourceAuth
from voice_mcp.services.oauth.url_policy import UrlPolicy

CLIENT_NAME = "voice-mcp"
# RFC 8414 section 2: an absent list means client_secret_basic only.
_DEFAULT_AUTH_METHODS = ["client_secret_basic"]


def choose_auth_method(supported: list[str] | None, *, public: bool) -> str:
    """Pick how to authenticate at the token endpoint from what the server offers.

    `public`: a client without a secret is acceptable (PKCE protects the code).
    """
    offered = supported or _DEFAULT_AUTH_METHODS
    preferences = (["none"] if public else []) + ["client_secret_post", "client_secret_basic"]
    return next((m for m in preferences if m in offered), preferences[0])


def application_type(redirect_uri: str) -> str:
    """SEP-837 / OpenID registration: `web` for an https callback on a server, `native` for a
    loopback one over http (a development set-up), which `web` clients may not use."""
    return "web" if redirect_uri.startswith("https://") else "native"


METADATA_DOCUMENT_PATH = "/oauth/client-metadata.json"


def metadata_document(client_id: str, redirect_uri: str) -> dict[str, object]:
    """This server's Client ID Metadata Document, served at its own URL (the `client_id`)."""
    return {"client_id": client_id, "client_name": CLIENT_NAME,
            "redirect_uris": [redirect_uri], "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"], "token_endpoint_auth_method": "none",
            "application_type": application_type(redirect_uri)}


def metadata_document_client(metadata: AuthServerMetadata, redirect_uri: str,
                             document_url: str) -> ClientInfo | None:
    """The client named by URL, where the server takes one and the URL is https (a server
    fetches it from there); None means register instead."""
    if not metadata.client_id_metadata_document_supported \
            or not document_url.startswith("https://"):
        return None
    return ClientInfo(client_id=document_url, token_endpoint_auth_method="none",
                      redirect_uri=redirect_uri, issuer=metadata.issuer, static=True)


def static_client(service: ServiceConfig, metadata: AuthServerMetadata,
                  redirect_uri: str) -> ClientInfo | None:
    """The client configured through `client_id_env`/`client_secret_env`, if any."""
    if not service.client_id_env:
        return None
    client_id = os.environ.get(service.client_id_env, "").strip()
    if not client_id:
        raise ServiceUnavailable(
            f"Service '{service.id}' needs {service.client_id_env} to be set.",
            code="oauth_not_configured", retryable=False,
        )
    secret = os.environ.get(service.client_secret_env, "").strip() if service.client_secret_env \
        else ""
    if secret and (not service.issuer
                   or service.issuer.rstrip("/") != metadata.issuer.rstrip("/")):
        # The secret goes only to the token endpoint of the issuer the operator pinned.
        raise ServiceUnavailable(
            f"Service '{service.id}': the authorization server is not the issuer pinned in the"
            " catalog; its client secret is not sent.", code="oauth_issuer_mismatch",
            retryable=False)
    method = (choose_auth_method(metadata.token_endpoint_auth_methods_supported, public=False)
              if secret else "none")
    return ClientInfo(client_id=client_id, client_secret=secret or None,
                      token_endpoint_auth_method=method, redirect_uri=redirect_uri,
                      issuer=metadata.issuer, static=True)


async def register_client(http: httpx2.AsyncClient, service: ServiceConfig, found: ResourceAuth,
                          redirect_uri: str, scopes: list[str],
                          policy: UrlPolicy) -> ClientInfo:
    """Register this server as a client of the service's authorization server (RFC 7591).

    The endpoint passes the URL policy again, and the request goes to the vetted address.
    """
    metadata = found.metadata
    if not metadata.registration_endpoint:
        raise ServiceUnavailable(
            f"Service '{service.id}' does not allow dynamic client registration; set"
            " client_id_env in the catalog.",
            code="oauth_not_configured", retryable=False,
        )
    method = choose_auth_method(metadata.token_endpoint_auth_methods_supported, public=True)
    body: dict[str, object] = {
        "client_name": CLIENT_NAME,
        "application_type": application_type(redirect_uri),
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    }
    if scopes:
        body["scope"] = " ".join(scopes)
    target = await pin(service.id, metadata.registration_endpoint, policy,
                       "its registration_endpoint")
    try:
        response = await http.post(target.url, json=body, extensions=target.extensions,
                                   headers={"Accept": "application/json", **target.headers},
                                   follow_redirects=False)
    except httpx2.HTTPError:
        raise discovery_failed(service.id, "client registration did not answer") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code not in (200, 201) or not isinstance(answer, dict) \
            or not isinstance(answer.get("client_id"), str):
        code = safe_code(answer.get("error")) if isinstance(answer, dict) else None
        why = f"client registration failed ({code or response.status_code})"
        raise discovery_failed(service.id, why)
    granted = answer.get("token_endpoint_auth_method")
    method = granted if isinstance(granted, str) else method
    secret = answer.get("client_secret") if method != "none" else None
    if method != "none" and not isinstance(secret, str):
        raise discovery_failed(service.id, "client registration gave no secret")
    return ClientInfo(client_id=answer["client_id"], client_secret=secret,
                      token_endpoint_auth_method=method, redirect_uri=redirect_uri,
                      issuer=metadata.issuer, static=False)
