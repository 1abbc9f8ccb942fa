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


def _tls_server(tmp_path: Path, make_redis, subject: str, san) -> tuple[int, str, str]:
    """(TLS port, the server's CA file, an unrelated CA file) for a server certificate of that shape."""
    ca_key, ca_cert, ca_file = _ca(tmp_path, "cache-ca")
    _, _, other_ca_file = _ca(tmp_path, "other-ca")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(
        _name(subject), ca_cert.subject, server_key.public_key(), ca_key, ca=False, san=san
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


@pytest.fixture
def tls_cache(tmp_path: Path, make_redis) -> tuple[int, str, str]:
    """A certificate that names its address the standard way (an IP subjectAltName)."""
    return _tls_server(tmp_path, make_redis, "cache", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])


@pytest.fixture
def memorystore_cache(tmp_path: Path, make_redis) -> tuple[int, str, str]:
    """Shaped like Memorystore's: the instance's IP as the subject CN and no subjectAltName, signed by a CA of
    the instance's own (envoyproxy/ratelimit#409 "GCP Memorystore which sets the CN to an IP address";
    cloud.google.com/memorystore/docs/redis/about-in-transit-encryption: each instance has unique CAs)."""
    return _tls_server(tmp_path, make_redis, "127.0.0.1", None)


def _ping(port: int, ca_file: str | None, **settings: str) -> None:
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
    environ.update(settings)
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
    assert "CERTIFICATE_VERIFY_FAILED" in _reasons(refused.value)


def _reasons(error: BaseException | None) -> str:
    chain = []
    while error is not None:
        chain.append(f"{error!r} {error}")
        error = error.__cause__ or error.__context__
    return " ".join(chain)


def test_a_memorystore_certificate_fails_the_host_name_check_by_ip(memorystore_cache) -> None:
    """Why the GCP stack turns the host name check off: OpenSSL matches an IP only against iPAddress SANs."""
    port, ca_file, _ = memorystore_cache
    with pytest.raises(CacheUnavailable) as refused:
        _ping(port, ca_file)
    assert "IP address mismatch" in _reasons(refused.value)


def test_a_memorystore_certificate_is_accepted_on_its_own_ca_without_the_host_name_check(
    memorystore_cache,
) -> None:
    port, ca_file, _ = memorystore_cache
    _ping(port, ca_file, CACHE_TLS_CHECK_HOSTNAME="false")


def test_without_the_host_name_check_the_chain_to_the_instance_ca_is_required(
    memorystore_cache,
) -> None:
    port, _, other_ca_file = memorystore_cache
    with pytest.raises(CacheUnavailable) as refused:
        _ping(port, other_ca_file, CACHE_TLS_CHECK_HOSTNAME="false")
    assert "CERTIFICATE_VERIFY_FAILED" in _reasons(refused.value)


def test_the_host_name_check_is_only_turned_off_against_a_private_ca() -> None:
    with pytest.raises(ValueError, match="CACHE_TLS_CHECK_HOSTNAME='false' needs CACHE_TLS_CA_FILE"):
        _ping(6379, None, CACHE_TLS_CHECK_HOSTNAME="false")
