"""A throwaway certificate authority for the loopback topologies with TLS (tls: yes).

What cert-manager does in a cluster, done with the `openssl` CLI in a work directory:
a CA, and for each "pod" a certificate signed by it, naming what the pod is reached by
(its loopback address, 127.0.0.1 and localhost), valid as a server and as a client,
written as cert-manager writes its Secret: tls.crt, tls.key, ca.crt in one directory
(the pod's TLS_DIR). Keys never leave the work directory (mode 600).

    ca = CertificateAuthority.create(workdir / "ca")
    ca.issue(node_dir / "tls", ["127.1.0.11"])        # the pod's TLS_DIR
    client_tls(repo, workdir, ca)                     # what the app and the tools present
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from redis_scaffold.sandbox.nodes import TopologyError
from redis_scaffold.service.check import TlsFiles

DAYS = 2  # a sandbox's certificates outlive any run, and nothing more


def _openssl(*args: str, cwd: Path) -> None:
    if shutil.which("openssl") is None:
        raise TopologyError("openssl is not installed (Debian: apt-get install openssl)")
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise TopologyError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def _san(names: list[str]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            entries.append(f"IP:{name}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA in `root` (ca.crt, ca.key); issue() signs certificates with it."""

    root: Path

    @property
    def cert(self) -> Path:
        return self.root / "ca.crt"

    @classmethod
    def create(
        cls, root: Path, subject: str = "/CN=redis-scaffold sandbox CA"
    ) -> CertificateAuthority:
        """A new CA in `root` (kept if one is there already: a restarted sandbox keeps it)."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        ca = cls(root)
        if not (ca.cert.is_file() and (root / "ca.key").is_file()):
            _openssl(
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-days", str(DAYS), "-keyout", "ca.key", "-out", "ca.crt",
                "-subj", subject,
                cwd=root,
            )  # fmt: skip
            (root / "ca.key").chmod(0o600)
        return ca

    def issue(self, directory: Path, names: list[str], key_name: str = "tls") -> Path:
        """A certificate for `names` (IP addresses or DNS names) in `directory`:
        <key_name>.crt, <key_name>.key and ca.crt. Server and client auth both (a replica,
        a sentinel, a cluster node present it as clients too)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        ext = directory / f"{key_name}.ext"
        ext.write_text(
            f"subjectAltName={_san(names)}\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
            "keyUsage=digitalSignature,keyEncipherment\n"
        )
        _openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{key_name}.key", "-out", f"{key_name}.csr", "-subj", f"/CN={names[0]}",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{key_name}.csr", "-CA", str(self.cert),
            "-CAkey", str(self.root / "ca.key"), "-CAcreateserial", "-days", str(DAYS),
            "-extfile", ext.name, "-out", f"{key_name}.crt",
            cwd=directory,
        )  # fmt: skip
        (directory / f"{key_name}.key").chmod(0o600)
        (directory / f"{key_name}.csr").unlink()
        ext.unlink()
        shutil.copyfile(self.cert, directory / "ca.crt")
        return directory


REDIS_CONF = "manifest/redis/base/config/redis.conf"


def client_tls(repo: Path, workdir: Path, ca: CertificateAuthority | None) -> TlsFiles | None:
    """How the app and the tools of a loopback topology speak TLS (None without tls):
    they verify the servers with `ca`; where the rendered servers ask clients for a
    certificate (tls-auth-clients yes: mutual TLS) they present one of `ca`, issued once
    in `workdir`/app-tls, as a team would mount one in its app."""
    if ca is None:
        return None
    if "\ntls-auth-clients yes" not in (Path(repo) / REDIS_CONF).read_text():
        return TlsFiles(ca.cert)
    folder = Path(workdir) / "app-tls"
    if not (folder / "client.crt").is_file():
        ca.issue(folder, ["app.sandbox.invalid"], key_name="client")
    return TlsFiles(ca.cert, folder / "client.crt", folder / "client.key")
