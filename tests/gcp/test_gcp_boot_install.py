"""The startup script's own install steps, run here in bash against a local stand-in for the metadata
server and Cloud Storage: the token, the bundle download (as Pulumi uploads it: the bundle directory,
zipped), the unzip with python3 alone and the offline install, with every proxy pointing at a closed port so
nothing else can be fetched. What it proves: a boot needs exactly the two destinations in its table."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from refarch.bundle import build_bundle

# Debian 12's own python3 (the image's) when this machine has it.
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
UNREACHABLE = "http://127.0.0.1:9"


class _Cloud(http.server.BaseHTTPRequestHandler):
    bundle = b""

    def do_GET(self) -> None:
        if self.path.startswith("/computeMetadata/v1/instance/service-accounts/default/token"):
            ok, body = self.headers["Metadata-Flavor"] == "Google", json.dumps({"access_token": "t"}).encode()
        else:
            ok, body = self.headers["Authorization"] == "Bearer t", self.bundle
        self.send_response(200 if ok else 403)
        self.end_headers()
        self.wfile.write(body if ok else b"denied")

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
def test_the_startup_script_installs_its_release_from_the_metadata_server_and_the_bucket_alone(
    inventory, tmp_path
):
    template = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate")
    script = template.get("metadata.startup-script")
    bundle = build_bundle("gcp", template.get("machineType"))
    _Cloud.bundle = Path(shutil.make_archive(str(tmp_path / "bundle"), "zip", bundle.path)).read_bytes()
    server = http.server.HTTPServer(("127.0.0.1", 0), _Cloud)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local = f"http://127.0.0.1:{server.server_port}"
    # The install steps: from the top of the script to the end of the `.installed` block.
    steps = script.split("\nmkdir -p /etc/sample-service\n", 1)[0]
    [url] = [
        line.split("fetch '", 1)[1].split("'", 1)[0] for line in steps.splitlines() if "fetch 'https" in line
    ]
    steps = (
        steps.replace("ROOT=/opt/sample-service", f"ROOT={tmp_path}/opt")
        .replace("http://metadata.google.internal", local)
        .replace(url, f"{local}/bundle")
    )
    python = DEBIAN_PYTHON if DEBIAN_PYTHON.exists() else Path(sys._base_executable)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").symlink_to(python)
    proxies = {name: UNREACHABLE for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    env = {"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "HOME": str(tmp_path), **proxies, "NO_PROXY": "127.0.0.1"}
    try:
        result = subprocess.run(["bash", "-c", steps], env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stdout + result.stderr
    release = tmp_path / "opt" / "releases" / bundle.id
    assert (release / ".installed").exists() and (release / "sample_service" / "__main__.py").exists()
    imported = subprocess.run(
        [release / "venv/bin/python", "-c", "import sample_service.app, google.cloud.firestore"],
        cwd=release,
        env={"PATH": os.defpath},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
