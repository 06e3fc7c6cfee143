"""The generated repository's scripts/install-tools.sh checks every download.

A loopback HTTP server plays the three publishers, laid out as they publish: terraform's
zip beside terraform_<v>_SHA256SUMS, kubectl beside kubectl.sha256, argocd-vault-plugin's
binary beside argocd-vault-plugin_<v>_checksums.txt. The script is pointed at it through
its base-URL variables. Genuine files install; a tampered file, or a checksum file that
does not list it, is refused and nothing of that tool lands in the tools directory.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import platform
import shutil
import subprocess
import threading
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.fixtures.generation import TEMPLATE_TAG

TF, KC, AVP = "9.9.1", "9.9.2", "9.9.3"  # versions no machine has, so nothing is "present"
OS = platform.system().lower()
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[
    platform.machine().lower()
]
TOOLS = ("terraform", "kubectl", "argocd-vault-plugin")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_binary(name: str, version: str) -> bytes:
    return f"#!/bin/sh\necho '{name} v{version} (a stand-in served from loopback)'\n".encode()


@dataclass
class Publishers:
    """The files of the three publishers under `root`, served at `url`."""

    root: Path
    url: str

    def files(self) -> dict[str, Path]:
        """Each tool's downloaded artifact, and its checksum file."""
        return {
            "terraform": self.root / f"tf/{TF}/terraform_{TF}_{OS}_{ARCH}.zip",
            "terraform sums": self.root / f"tf/{TF}/terraform_{TF}_SHA256SUMS",
            "kubectl": self.root / f"k8s/v{KC}/bin/{OS}/{ARCH}/kubectl",
            "kubectl sums": self.root / f"k8s/v{KC}/bin/{OS}/{ARCH}/kubectl.sha256",
            "argocd-vault-plugin": self.root / f"avp/v{AVP}/argocd-vault-plugin_{AVP}_{OS}_{ARCH}",
            "argocd-vault-plugin sums": self.root
            / f"avp/v{AVP}/argocd-vault-plugin_{AVP}_checksums.txt",
        }

    def publish(self) -> None:
        files = self.files()
        for path in files.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(files["terraform"], "w") as archive:
            info = zipfile.ZipInfo("terraform")
            info.external_attr = 0o755 << 16
            archive.writestr(info, fake_binary("Terraform", TF))
        files["kubectl"].write_bytes(fake_binary("kubectl", KC))
        files["argocd-vault-plugin"].write_bytes(fake_binary("argocd-vault-plugin", AVP))
        # The publishers' formats: "<sha256>  <file>" lines for every platform, or a bare hash.
        other = "0" * 64
        files["terraform sums"].write_text(
            f"{other}  terraform_{TF}_windows_{ARCH}.zip\n"
            f"{sha256(files['terraform'].read_bytes())}  {files['terraform'].name}\n"
        )
        files["kubectl sums"].write_text(sha256(files["kubectl"].read_bytes()))
        files["argocd-vault-plugin sums"].write_text(
            f"{other}  argocd-vault-plugin_{AVP}_darwin_{ARCH}\n"
            f"{sha256(files['argocd-vault-plugin'].read_bytes())}  {files['argocd-vault-plugin'].name}\n"
        )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def publishers(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        served = Publishers(root, f"http://127.0.0.1:{server.server_address[1]}")
        served.publish()
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory, template_src: Path) -> Path:
    """install-tools.sh as a generated repository carries it."""
    import copier

    dst = tmp_path_factory.mktemp("generated") / "svc"
    copier.run_copy(
        str(template_src),
        dst,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=TEMPLATE_TAG,
    )
    return dst / "scripts" / "install-tools.sh"


def install(script: Path, publishers: Publishers, tools_dir: Path) -> subprocess.CompletedProcess:
    for tool in ("curl", "unzip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH: install-tools.sh needs it (Debian package {tool})")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        TERRAFORM_BASE_URL=f"{publishers.url}/tf",
        KUBECTL_BASE_URL=f"{publishers.url}/k8s",
        AVP_BASE_URL=f"{publishers.url}/avp",
        CHECKPOINT_DISABLE="1",
    )
    return subprocess.run(
        ["sh", str(script), str(tools_dir), TF, KC, AVP],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_genuine_downloads_are_verified_and_installed(script, publishers, tmp_path):
    tools_dir = tmp_path / "bin"
    result = install(script, publishers, tools_dir)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"terraform {TF}: installed (SHA-256 verified)",
        f"kubectl {KC}: installed (SHA-256 verified)",
        f"argocd-vault-plugin {AVP}: installed (SHA-256 verified)",
    ]
    for tool in TOOLS:
        ran = subprocess.run([str(tools_dir / tool)], capture_output=True, text=True, timeout=10)
        assert ran.returncode == 0 and "stand-in served from loopback" in ran.stdout


@pytest.mark.parametrize("tool", TOOLS)
def test_a_tampered_download_is_refused(script, publishers, tmp_path, tool):
    artifact = publishers.files()[tool]
    published = sha256(artifact.read_bytes())
    artifact.write_bytes(artifact.read_bytes() + b"# one byte more than the publisher released\n")
    tools_dir = tmp_path / "bin"

    result = install(script, publishers, tools_dir)

    assert result.returncode == 1
    assert result.stderr == (
        f"install-tools: checksum mismatch for {artifact.name if tool != 'kubectl' else f'kubectl {KC}'}: "
        f"the publisher says {published}, the download is {sha256(artifact.read_bytes())}; refusing to install it\n"
    )
    assert not (tools_dir / tool).exists()
    # The tools before it in the script were installed; none after it was attempted.
    before = TOOLS[: TOOLS.index(tool)]
    assert sorted(p.name for p in tools_dir.iterdir()) == sorted(before)


def test_a_download_its_checksum_file_does_not_list_is_refused(script, publishers, tmp_path):
    sums = publishers.files()["argocd-vault-plugin sums"]
    sums.write_text(
        "".join(line + "\n" for line in sums.read_text().splitlines() if "_darwin_" in line)
    )
    tools_dir = tmp_path / "bin"

    result = install(script, publishers, tools_dir)

    assert result.returncode == 1
    assert result.stderr == (
        f"install-tools: no published SHA-256 for argocd-vault-plugin_{AVP}_{OS}_{ARCH}; refusing to install it\n"
    )
    assert not (tools_dir / "argocd-vault-plugin").exists()


def test_with_external_secrets_only_terraform_and_kubectl_are_installed(
    template_src, publishers, tmp_path
):
    import copier

    dst = tmp_path / "eso"
    copier.run_copy(
        str(template_src),
        dst,
        data={"secret_delivery": "external-secrets", "secret_store": "platform-aws"},
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=TEMPLATE_TAG,
    )
    script = dst / "scripts" / "install-tools.sh"
    assert "vault" not in script.read_text().lower() and "AVP" not in script.read_text()
    assert '"$(KUBECTL_VERSION)"\n' in (dst / "Makefile").read_text()  # three arguments
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(TERRAFORM_BASE_URL=f"{publishers.url}/tf", KUBECTL_BASE_URL=f"{publishers.url}/k8s")
    tools_dir = tmp_path / "bin"

    result = subprocess.run(
        ["sh", str(script), str(tools_dir), TF, KC],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"terraform {TF}: installed (SHA-256 verified)",
        f"kubectl {KC}: installed (SHA-256 verified)",
    ]
    assert sorted(p.name for p in tools_dir.iterdir()) == ["kubectl", "terraform"]
