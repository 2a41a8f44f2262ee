"""HTTPS for `virga serve`: a self-signed certificate made at `virga init` (or a given one), its fingerprint,
and the client side: a CA file, or a pinned SHA-256 fingerprint."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import socket
import ssl
from pathlib import Path

from virga.config import config_dir


def cert_paths() -> tuple[Path, Path]:
    """Where `virga init` keeps the server's certificate and private key (config dir, key 0600)."""
    return config_dir() / "tls" / "server.crt", config_dir() / "tls" / "server.key"


def make_self_signed(cert: Path, key: Path, names: list[str] | None = None) -> None:
    """Write a self-signed certificate (10 years, SANs: localhost, 127.0.0.1, ::1, this host) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    names = names or ["localhost", socket.gethostname()]
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, names[0]), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "virga")]
    )
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem_key = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem_key)
    os.chmod(key, 0o600)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def ensure_cert() -> tuple[Path, Path, bool]:
    """The init certificate and key, made when missing; True when made now."""
    cert, key = cert_paths()
    if cert.exists() and key.exists():
        return cert, key, False
    make_self_signed(cert, key)
    return cert, key, True


def fingerprint_of_pem(pem: str) -> str:
    """SHA256:AA:BB:... of a PEM certificate (what `virga serve` prints and `--fingerprint` takes)."""
    der = ssl.PEM_cert_to_DER_cert(pem)
    hexed = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))


def _normal(fp: str) -> str:
    """A fingerprint without prefix, colons or case."""
    return fp.upper().removeprefix("SHA256:").replace(":", "").strip()


def pinned_context(host: str, port: int, fingerprint: str) -> ssl.SSLContext:
    """A client context trusting exactly the server certificate with this fingerprint (else ssl.SSLError)."""
    pem = ssl.get_server_certificate((host, port), timeout=10)
    got = fingerprint_of_pem(pem)
    if _normal(got) != _normal(fingerprint):
        raise ssl.SSLError(f"certificate of {host}:{port} is {got}, not the pinned {fingerprint}")
    ctx = ssl.create_default_context(cadata=pem)
    ctx.check_hostname = False  # the pin names the certificate; the handshake proves the server holds its key
    return ctx


def client_verify(url: str, cafile: str = "", fingerprint: str = "") -> ssl.SSLContext | str | bool:
    """What httpx's verify= gets for a URL: a pinned context, a CA file, or the system's CAs."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme != "https":
        return True
    if fingerprint:
        return pinned_context(parsed.hostname or "localhost", parsed.port or 443, fingerprint)
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    return True
