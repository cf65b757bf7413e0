"""Security headers on every response: the console runs only its own files, in no frame."""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: set the headers unless a handler chose its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
