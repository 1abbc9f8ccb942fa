"""The instances' custom data: a strict, idempotent, pinned boot of exactly this release, configured with
variables the service reads, and no secret anywhere in it."""

from __future__ import annotations

import re

from azure_queries import boot_script, service_variables

from refarch.boot import stop_timeout_seconds
from refarch.inventory import Inventory
from refarch.service_contract import parse_service_environment


def test_boot_is_strict_idempotent_pinned_and_fully_rendered(inventory: Inventory, spec):
    script = boot_script(inventory)
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert 'if [ ! -f "$DIR/.installed" ]' in script
    assert "requirements.lock" in script and 'pip" install' in script
    assert f"TimeoutStopSec={stop_timeout_seconds(spec.service)}" in script
    assert "systemctl disable --now ssh.service" in script
    assert "@{" not in script, "an unsubstituted placeholder reached the instances"


def test_boot_installs_this_release_from_the_private_bundle_with_the_identity(inventory: Inventory):
    from azure_stack.offline import mock_guid

    from refarch.release import release_id

    script = boot_script(inventory)
    release = release_id()
    assert f"RELEASE='{release}'" in script
    bundle = inventory.only("azure-native:storage:Blob")
    assert bundle.get("blobName") == f"sample-service/{release}.zip"
    assert f"'https://releases.blob.core.windows.net/releases/sample-service/{release}.zip'" in script
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    assert f"client_id={mock_guid(f'{identity.name}/client')}'" in script
    assert "resource=https%3A%2F%2Fstorage.azure.com%2F" in script


def test_the_service_accepts_every_variable_the_stack_writes(inventory: Inventory, spec):
    variables = service_variables(boot_script(inventory))
    config, unread = parse_service_environment(variables)
    # A variable the service never reads (renamed or misspelt) would silently fall back to a default.
    assert unread == set()
    assert config.service_port == spec.service.port
    assert config.session_ttl_seconds == spec.service.session_ttl_seconds
    assert config.cache_timeout_ms == spec.service.cache_timeout_ms
    assert config.store_timeout_ms == spec.service.store_timeout_ms
    assert config.shutdown_grace_seconds == spec.service.shutdown_grace_seconds
    assert config.cache_tls is True and config.cache_auth == "entra-id"
    assert config.store_backend == "cosmos"


def test_service_settings_point_at_this_cache_store_and_identity(inventory: Inventory):
    from azure_stack.offline import mock_guid

    variables = service_variables(boot_script(inventory))
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    cache = inventory.only("azure-native:redisenterprise:RedisEnterprise")
    database = inventory.only("azure-native:redisenterprise:Database")
    store = inventory.only("azure-native:cosmosdb:DatabaseAccount")
    container = inventory.only("azure-native:cosmosdb:SqlResourceSqlContainer")
    assert variables["CACHE_HOST"] == f"{cache.name}.westeurope.redis.azure.net"
    assert variables["CACHE_PORT"] == str(database.get("port"))
    assert variables["COSMOS_ENDPOINT"] == f"https://{store.name}.documents.azure.com:443/"
    assert variables["COSMOS_DATABASE"] == container.get("databaseName")
    assert variables["COSMOS_CONTAINER"] == container.get("containerName")
    assert variables["AZURE_CLIENT_ID"] == mock_guid(f"{identity.name}/client")
    # The cache admits exactly the identity the service logs in as.
    login = inventory.only("azure-native:redisenterprise:AccessPolicyAssignment").get("user.objectId")
    assert variables["CACHE_USERNAME"] == login
    assert inventory.only("azure-native:cosmosdb:SqlResourceSqlRoleAssignment").get("principalId") == login


def test_no_credential_reaches_the_instances(inventory: Inventory):
    variables = service_variables(boot_script(inventory))
    assert not {"CACHE_PASSWORD", "CACHE_AUTH_SECRET_ID"} & set(variables)
    assert not any("KEY" in name or "SECRET" in name for name in variables)


def test_boot_forwards_the_journal_to_the_syslog_the_monitor_agent_collects(inventory: Inventory):
    script = boot_script(inventory)
    assert "rsyslog" in script.split("apt-get install", 1)[1].split("\n", 1)[0]
    assert "ForwardToSyslog=yes" in script


def test_every_download_retries_every_error_for_a_bounded_time(inventory: Inventory):
    from azure_stack.boot import RETRY_DELAY_SECONDS, RETRY_SECONDS

    script = boot_script(inventory)
    # A new instance gets 403 from storage until its role assignment propagates: curl's plain --retry
    # does not retry a 403, --retry-all-errors does.
    assert (
        f"RETRY=(--retry 1000 --retry-all-errors --retry-delay {RETRY_DELAY_SECONDS} "
        f"--retry-max-time {RETRY_SECONDS})" in script
    )
    calls = [line for line in script.splitlines() if re.search(r"\bcurl -", line)]
    assert len(calls) == 2 and all('"${RETRY[@]}"' in line for line in calls), calls


def _watcher(script: str) -> str:
    return script.split("terminate_watch.py <<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


def test_boot_installs_and_starts_the_terminate_watcher(inventory: Inventory):
    script = boot_script(inventory)
    assert "ExecStart=/usr/bin/python3 /usr/local/lib/sample-service/terminate_watch.py" in script
    assert "systemctl enable sample-service-terminate-watch" in script
    assert "systemctl stop sample-service.service" in _watcher(script)


class _FakeMetadata:
    """Azure's instance metadata service on 127.0.0.1: this VM's name, its scheduled events, approvals."""

    def __init__(self, events: list[dict], stopped):
        import http.server
        import json
        import threading

        fake = self
        self.approved: list[dict] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                assert self.headers["Metadata"] == "true"
                body = "vm-7" if "/instance/compute/name" in self.path else json.dumps({"Events": events})
                self._answer(body)

            def do_POST(self):
                assert self.headers["Metadata"] == "true" and self.path.startswith(
                    "/metadata/scheduledevents"
                )
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                # Whether the service had stopped when the deletion was approved.
                fake.approved.append((body, stopped.exists()))
                self._answer("")

            def _answer(self, body: str):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/metadata"


def _run_watcher(inventory: Inventory, tmp_path, events: list[dict], timeout: float):
    import os
    import subprocess
    import sys

    stopped = tmp_path / "stopped"
    fake = _FakeMetadata(events, stopped)
    program = tmp_path / "terminate_watch.py"
    program.write_text(_watcher(boot_script(inventory)))
    environment = {
        **os.environ,
        "METADATA_URL": fake.url,
        "STOP_COMMAND": f"touch {stopped}",
        "POLL_SECONDS": "0.05",
    }
    try:
        result = subprocess.run(
            [sys.executable, str(program)], env=environment, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        result = None
    finally:
        fake.server.shutdown()
    return result, stopped.exists(), fake.approved


def test_the_watcher_stops_the_service_then_approves_this_vms_termination(inventory: Inventory, tmp_path):
    # The rendered script's watcher, run against a fake metadata endpoint on 127.0.0.1.
    events = [
        {"EventId": "other-vm", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-9"]},
        {"EventId": "reboot", "EventType": "Reboot", "EventStatus": "Scheduled", "Resources": ["vm-7"]},
        {"EventId": "mine", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-7"]},
    ]
    result, stopped, approved = _run_watcher(inventory, tmp_path, events, timeout=20)
    assert result is not None and result.returncode == 0, result
    assert stopped
    # Approved once, for this VM's termination only, after the service had stopped.
    assert approved == [({"StartRequests": [{"EventId": "mine"}]}, True)]


def test_the_watcher_leaves_other_events_alone(inventory: Inventory, tmp_path):
    events = [
        {"EventId": "other-vm", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-9"]},
        {"EventId": "started", "EventType": "Terminate", "EventStatus": "Started", "Resources": ["vm-7"]},
        {"EventId": "freeze", "EventType": "Freeze", "EventStatus": "Scheduled", "Resources": ["vm-7"]},
    ]
    result, stopped, approved = _run_watcher(inventory, tmp_path, events, timeout=1.5)
    assert result is None, "the watcher exited without a termination to handle"
    assert not stopped and approved == []
