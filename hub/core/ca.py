"""A small certificate authority for one deployment: the broker's and the web proxy's server certificates and,
for mutual TLS, client certificates of boxes and receivers (`python -m hub ca init|issue-server|issue-client`).

Files live under `{data_dir}/ca/`: `ca.crt` (handed to every device, in its provisioning file), `ca.key` (never
leaves the hub machine) and `issued/{name}.crt|.key`. Private keys are written 0600 and never overwritten in
place: a new key goes to a temporary file that replaces the old one. Keys are ECDSA P-256: small certificates,
which matters because the CA certificate travels inside a QR code.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers still accept for a server certificate
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class CaError(Exception):
    """A CA operation that cannot be done (no CA yet, bad name …); the message is for the operator."""


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def ca_dir(data_dir: Path) -> Path:
    return data_dir / "ca"


def write_private(path: Path, data: bytes) -> None:
    """Write `data` readable by the owner only (0600 from creation, never a moment world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_ca(root: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((root / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((root / "ca.key").read_bytes(), password=None)
    except FileNotFoundError:
        raise CaError(f"no CA in {root}: run `python -m hub ca init` first") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CaError(f"{root / 'ca.key'} is not an EC key")
    return cert, key


def init_ca(root: Path, now: datetime, common_name: str = "commune-ops CA", days: int = CA_DAYS) -> bool:
    """Create the CA in `root`; False (and nothing changed) when one is already there."""
    if (root / "ca.crt").exists() or (root / "ca.key").exists():
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),  # fmt: skip
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(root / "ca.key", _key_pem(key))
    (root / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def _subject_alt_names(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def _issue(
    root: Path, file_name: str, common_name: str, sans: list[str], server: bool, now: datetime, days: int
) -> Issued:
    if not NAME_RE.match(file_name):
        raise CaError(f"file name {file_name!r}: letters, digits, '.', '_' or '-' only")
    ca_cert, ca_key = _load_ca(root)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc.replace(tzinfo=None)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_subject_alt_names(sans)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    out = root / "issued"
    issued = Issued(out / f"{file_name}.crt", out / f"{file_name}.key")
    write_private(issued.key, _key_pem(key))
    # The chain a server presents: its own certificate, then the CA's (clients that know the CA need only the
    # first; some TLS stacks want the whole chain).
    issued.cert.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return issued


def issue_server(
    root: Path, names: list[str], now: datetime, file_name: str | None = None, days: int = LEAF_DAYS
) -> Issued:
    """A server certificate for `names` (host names or IP addresses the clients connect to)."""
    if not names:
        raise CaError("a server certificate needs at least one --name (host name or IP address)")
    return _issue(root, file_name or names[0], names[0], names, True, now, days)


def issue_client(
    root: Path, common_name: str, now: datetime, file_name: str | None = None, days: int = LEAF_DAYS
) -> Issued:
    """A client certificate for mutual TLS; its common name is the device's broker account name."""
    return _issue(root, file_name or common_name.replace(":", "_"), common_name, [], False, now, days)


def ca_pem(root: Path) -> str:
    try:
        return (root / "ca.crt").read_text(encoding="ascii")
    except FileNotFoundError:
        raise CaError(f"no CA in {root}: run `python -m hub ca init` first") from None
