"""`rediss://` (a managed Redis with TLS) through the app's own pool, against a real
redis-server listening with TLS only, with a CA and certificate made for the test."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from voice_mcp.services.store import free_port, make_pool, ping
from voice_mcp.settings import Settings


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def make_certificates(directory: Path) -> dict[str, str]:
    """A test CA and a server certificate for 127.0.0.1 signed by it, as PEM files."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "voice-mcp test CA")])
    ca = _cert("voice-mcp test CA", ca_key, ca_name, ca_key, ca=True)
    server = _cert("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    key_pem = server_key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    return {"ca": _pem(directory / "ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
            "cert": _pem(directory / "server.pem",
                         server.public_bytes(serialization.Encoding.PEM)),
            "key": _pem(directory / "server.key", key_pem)}


@pytest.fixture
async def tls_redis(tmp_path: Path) -> AsyncIterator[tuple[int, dict[str, str]]]:
    """redis-server with TLS on a free port and no plain-text port."""
    binary = shutil.which("redis-server")
    assert binary is not None
    files = make_certificates(tmp_path)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", files["cert"], "--tls-key-file", files["key"],
        "--tls-ca-cert-file", files["ca"], "--tls-auth-clients", "no", "--save", "",
        "--dir", str(tmp_path), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(30):
            while True:
                assert proc.returncode is None, "redis-server with TLS did not start"
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                await asyncio.sleep(0.05)
        yield port, files
    finally:
        proc.terminate()
        await proc.wait()


async def test_rediss_url_reaches_a_tls_redis(tls_redis: tuple[int, dict[str, str]]) -> None:
    port, files = tls_redis
    settings = Settings(_env_file=None,
                        redis_url=f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={files['ca']}")
    client = make_pool(settings.redis_url or "")
    try:
        assert await ping(client) is None
        await client.set("tls-check", b"ok")
        assert await client.get("tls-check") == b"ok"
    finally:
        await client.aclose()


async def test_an_untrusted_certificate_is_refused(tls_redis: tuple[int, dict[str, str]]) -> None:
    """Without the CA the certificate is not trusted: readiness says Redis is unavailable."""
    port, _files = tls_redis
    client = make_pool(f"rediss://127.0.0.1:{port}/0")
    try:
        reason = await ping(client)
        assert reason is not None and reason.startswith("redis unavailable"), reason
    finally:
        await client.aclose()
