"""TLS for a trusted network: a private CA, one certificate per server, and the client side.

A studio cluster spans a few machines its users own, so a private CA (kept on the machine
that ran `studio broker tls-init`) is enough: servers present certificates it signed, and
clients and peer servers trust only it. Server certificates carry both serverAuth and
clientAuth, because a route connection presents the same certificate to the peer it dials.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from broker.errors import InvalidInput
from broker.names import validate_name

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
CA_DAYS = 3650
SERVER_DAYS = 825


def cert_path(tls_dir: Path, node: str) -> Path:
    return tls_dir / f"{node}.pem"


def key_path(tls_dir: Path, node: str) -> Path:
    return tls_dir / f"{node}-key.pem"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_ca(
    tls_dir: Path, name: str = "studio CA"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA in `tls_dir`, created when missing (kept when present, so servers issued
    earlier stay trusted)."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = tls_dir / CA_CERT, tls_dir / CA_KEY
    if cert_file.is_file() and key_file.is_file():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidInput(f"{key_file} is not an EC key made by `studio broker tls-init`")
        return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(key_file, key)
    _write_cert(cert_file, cert)
    return cert, key


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue_server_cert(tls_dir: Path, node: str, hosts: list[str]) -> tuple[Path, Path]:
    """A certificate for `node`'s server, valid for each of `hosts` (IP addresses or DNS
    names) plus loopback, signed by the CA in `tls_dir`. Re-issuing replaces the old one."""
    validate_name(node, "node name")
    ca_cert, ca_key = ensure_ca(tls_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(_san([*hosts, node, "localhost", "127.0.0.1", "::1"]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path(tls_dir, node), key)
    _write_cert(cert_path(tls_dir, node), cert)
    return cert_path(tls_dir, node), key_path(tls_dir, node)


def tls_init(tls_dir: Path, hosts_by_node: dict[str, list[str]]) -> list[Path]:
    """The CA (kept if present) and a certificate for every node's server."""
    ensure_ca(tls_dir)
    written = [tls_dir / CA_CERT]
    for node, hosts in hosts_by_node.items():
        written += issue_server_cert(tls_dir, node, hosts)
    return written


def server_tls_block(tls_dir: str, node: str, *, verify: bool = False) -> str:
    """A nats-server `tls {}` block. Clients authenticate with nkeys, so client certificates
    are not asked for (verify=False); routes verify each other's certificates (verify=True)."""
    base = Path(tls_dir)
    return (
        "tls {\n"
        f'  cert_file: "{cert_path(base, node)}"\n'
        f'  key_file: "{key_path(base, node)}"\n'
        f'  ca_file: "{base / CA_CERT}"\n'
        f"  verify: {'true' if verify else 'false'}\n"
        "  timeout: 5\n"
        "}"
    )
