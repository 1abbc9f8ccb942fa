"""The session cache over TLS verified against the cache's own CA, as on Memorystore (SERVER_AUTHENTICATION):
a local redis-server with a certificate from a CA made here, the service given only that CA's file."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sample_service.config import ServiceConfig
from sample_service.sessions import CacheUnavailable, SessionStore
from tools.drill.servers import free_port, listening, wait_until

PASSWORD = "auth-string-for-tests"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(path: Path, certificate: x509.Certificate) -> str:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _ca(tmp_path: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate(_name(name), _name(name), key.public_key(), key, ca=True)
    return key, certificate, _pem(tmp_path / f"{name}.pem", certificate)


@pytest.fixture
def tls_cache(tmp_path: Path, make_redis) -> tuple[int, str, str]:
    """(TLS port, the server's CA file, an unrelated CA file)."""
    ca_key, ca_cert, ca_file = _ca(tmp_path, "cache-ca")
    _, _, other_ca_file = _ca(tmp_path, "other-ca")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(
        _name("cache"),
        ca_cert.subject,
        server_key.public_key(),
        ca_key,
        ca=False,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    key_file = tmp_path / "server-key.pem"
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    tls_port = free_port()
    make_redis(
        "--tls-port",
        str(tls_port),
        "--tls-cert-file",
        _pem(tmp_path / "server.pem", server_cert),
        "--tls-key-file",
        str(key_file),
        "--tls-ca-cert-file",
        ca_file,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        PASSWORD,
    )

    wait_until(lambda: listening(tls_port), 5, "redis-server's TLS port")
    return tls_port, ca_file, other_ca_file


def _ping(port: int, ca_file: str | None) -> None:
    environ = {
        "CACHE_HOST": "127.0.0.1",
        "CACHE_PORT": str(port),
        "CACHE_TLS": "true",
        "CACHE_PASSWORD": PASSWORD,
        "CACHE_TIMEOUT_MS": "2000",
        "STORE_BACKEND": "dynamodb",
        "ITEMS_TABLE": "items",
        "AWS_REGION": "us-east-1",
    }
    if ca_file:
        environ["CACHE_TLS_CA_FILE"] = ca_file
    store = SessionStore.from_config(ServiceConfig.from_env(environ))

    async def main() -> None:
        try:
            await store.ping()
        finally:
            await store.close()

    asyncio.run(main())


def test_the_cache_is_reached_over_tls_when_its_ca_is_given(tls_cache) -> None:
    port, ca_file, _ = tls_cache
    _ping(port, ca_file)


@pytest.mark.parametrize("which", ["another CA", "the system trust store"])
def test_a_server_not_signed_by_the_given_ca_is_refused(tls_cache, which) -> None:
    port, _, other_ca_file = tls_cache
    with pytest.raises(CacheUnavailable) as refused:
        _ping(port, other_ca_file if which == "another CA" else None)
    chain, error = [], refused.value
    while error is not None:
        chain.append(f"{error!r} {error}")
        error = error.__cause__ or error.__context__
    assert "CERTIFICATE_VERIFY_FAILED" in " ".join(chain), chain
