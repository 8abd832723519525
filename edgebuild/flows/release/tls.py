"""TLS for Dask traffic beyond loopback: a lab CA and one node certificate that edgebuild creates.

Dask messages carry pickles, so a worker that accepts any peer runs any peer's code. The files
live in devices/dask-tls/ (git-ignored: ca.pem, node.pem with its key); every process of the
cluster presents node.pem and accepts only certificates signed by this CA (mutual TLS).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

FOLDER = "dask-tls"
CA, NODE = "ca.pem", "node.pem"


def ensure(devices_dir: Path) -> Path:
    """The folder with ca.pem and node.pem, created on first use (then reused: it is the pin)."""
    folder = devices_dir / FOLDER
    if (folder / CA).is_file() and (folder / NODE).is_file():
        return folder
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, node_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgebuild lab CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    node = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgebuild node")]))
            .issuer_name(ca_name).public_key(node_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{NODE}.tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(node.public_bytes(pem) + key_pem)
    (folder / CA).write_bytes(ca.public_bytes(pem))
    tmp.replace(folder / NODE)  # written last: its presence means the pair is complete
    return folder


def config(folder: Path | str) -> dict:
    """Dask configuration requiring mutual TLS with these files (paths may be relative: remote
    processes started over SSH resolve them in the login's home folder)."""
    ca, node = str(Path(folder) / CA), str(Path(folder) / NODE)
    return {"distributed.comm.require-encryption": True, "distributed.comm.tls.ca-file": ca,
            **{f"distributed.comm.tls.{role}.cert": node for role in ("scheduler", "worker", "client")}}


def security(folder: Path):
    from distributed import Security

    ca, node = str(folder / CA), str(folder / NODE)
    return Security(require_encryption=True, tls_ca_file=ca, tls_client_cert=node, tls_scheduler_cert=node,
                    tls_worker_cert=node)


def worker_args(folder: Path) -> list[str]:
    """`dask worker` flags for the same files."""
    return ["--tls-ca-file", str(folder / CA), "--tls-cert", str(folder / NODE)]
