"""The instances' custom data: a strict, idempotent, pinned boot of exactly this release, configured with
variables the service reads, and no secret anywhere in it."""

from __future__ import annotations

import json
import re

import pytest
from azure_queries import boot_script, gateway_detection_seconds, service_variables

from refarch.boot import stop_timeout_seconds
from refarch.boot_destinations import package_commands
from refarch.inventory import Inventory
from refarch.service_contract import parse_service_environment


def test_boot_is_strict_idempotent_pinned_and_fully_rendered(inventory: Inventory, spec):
    script = boot_script(inventory)
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert 'if [ ! -f "$DIR/.installed" ]' in script
    assert 'install_release "$DIR" python3' in script and "--require-hashes" in script
    assert f"TimeoutStopSec={stop_timeout_seconds(spec.service)}" in script
    assert "systemctl disable --now ssh.service" in script
    assert "@{" not in script, "an unsubstituted placeholder reached the instances"


def test_boot_installs_this_release_from_the_private_bundle_with_the_identity(inventory: Inventory):
    from azure_stack.offline import mock_guid

    from refarch.bundle import build_bundle

    script = boot_script(inventory)
    vm_size = inventory.only("azure-native:compute:VirtualMachineScaleSet").get("sku.name")
    bundle = build_bundle("azure", vm_size)
    release = bundle.id
    assert f"RELEASE='{release}'" in script
    blob = inventory.only("azure-native:storage:Blob")
    assert blob.get("blobName") == f"sample-service/{release}.zip"
    # The self-contained bundle (service, wheelhouse, lock), not the bare service.
    assert blob.get("source") == {"archive": str(bundle.path)}
    assert f"fetch 'https://releases.blob.core.windows.net/releases/sample-service/{release}.zip'" in script
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
    assert variables and not any("KEY" in name or "SECRET" in name for name in variables)


def _exporter(script: str) -> str:
    return script.split("log_export.py <<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


def test_boot_starts_the_log_exporter_where_the_collection_rule_reads_and_no_syslog(inventory: Inventory):
    from azure_stack import service_logs

    script = boot_script(inventory)
    # No syslog daemon, no forwarding to one, no package command: the agent reads the exporter's files.
    assert not re.search(r"rsyslog|syslog-ng|ForwardToSyslog", script)
    assert package_commands(script) == []
    assert "ExecStart=/usr/bin/python3 /usr/local/lib/sample-service/log_export.py" in script
    assert "systemctl enable sample-service-log-export" in script
    # systemd creates the directory the rule's file pattern names, writable by the exporter only.
    directory = service_logs.LOG_DIRECTORY.removeprefix("/var/log/")
    assert f"LogsDirectory={directory}\n" in script
    exporter = _exporter(script)
    assert f'"LOG_DIRECTORY", "{service_logs.LOG_DIRECTORY}"' in exporter
    assert f'"KEEP_DAYS", "{service_logs.KEEP_DAYS}"' in exporter
    # From the unit's first entry, not the last ten --follow alone shows (journalctl(1)).
    assert "journalctl --unit=sample-service.service --follow --lines=all --output=json" in exporter
    # Its own user reads the journal through its group (test_the_exporter_runs_as_its_own_confined_user).
    assert "SupplementaryGroups=systemd-journal" in script
    # Its cursor lives in the state directory systemd makes writable for it (ProtectSystem=strict).
    assert "StateDirectory=sample-service-logs\n" in script
    assert '"CURSOR_FILE", "/var/lib/sample-service-logs/cursor"' in exporter
    assert script.index("useradd --system") < script.index(
        "cat > /etc/systemd/system/sample-service-log-export"
    )


def _exporter_unit(script: str) -> dict[str, list[str]]:
    """The exporter unit's [Service] directives, each with every value it is given."""
    unit = script.split("cat > /etc/systemd/system/sample-service-log-export.service <<'UNIT'\n", 1)[1]
    section = unit.split("\nUNIT\n", 1)[0].split("[Service]\n", 1)[1].split("\n[", 1)[0]
    directives: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    return directives


def _exporter_confinement_problems(script: str) -> list[str]:
    """What lets code running as the service reach the exporter, or the exporter reach more than it needs
    (systemd.exec(5): User=, SupplementaryGroups=, UMask=, NoNewPrivileges=, CapabilityBoundingSet= with
    an empty value empties the bounding set, PrivateNetwork=, RestrictAddressFamilies=; DynamicUser= would
    put LogsDirectory= under /var/log/private, which the agent cannot read)."""
    from azure_stack import service_logs

    directives = _exporter_unit(script)
    service_user = script.split("useradd --system", 1)[1].split("\n", 1)[0].split()[-1]
    wanted = {
        "User": [service_logs.EXPORTER_USER],
        "SupplementaryGroups": ["systemd-journal"],
        "UMask": ["0022"],
        "LogsDirectoryMode": ["0755"],
        "NoNewPrivileges": ["yes"],
        "CapabilityBoundingSet": [""],
        "PrivateNetwork": ["yes"],
        "RestrictAddressFamilies": ["AF_UNIX"],
    }
    problems = [
        f"{key}={directives.get(key)} (wanted {value})"
        for key, value in wanted.items()
        if directives.get(key) != value
    ]
    if directives.get("User") == [service_user]:
        problems.append(f"the exporter runs as the service's user {service_user}")
    if "DynamicUser" in directives:
        problems.append("DynamicUser= moves the logs under /var/log/private")
    create = f"useradd --system --no-create-home --shell /usr/sbin/nologin {service_logs.EXPORTER_USER}\n"
    if create not in script or script.index(create) > script.index("sample-service-log-export.service"):
        problems.append(f"no static system user {service_logs.EXPORTER_USER} created before the unit")
    return problems


def test_the_exporter_runs_as_its_own_confined_user(inventory: Inventory):
    assert _exporter_confinement_problems(boot_script(inventory)) == []


@pytest.mark.parametrize(
    "old, new",
    [
        ("User=sample-service-logs\n", "User=sample-service\n"),
        ("CapabilityBoundingSet=\n", ""),
        ("PrivateNetwork=yes\n", ""),
        ("RestrictAddressFamilies=AF_UNIX\n", "RestrictAddressFamilies=AF_UNIX AF_INET\n"),
        ("UMask=0022\n", "UMask=0077\n"),
        ("StateDirectory=", "DynamicUser=yes\nStateDirectory="),
        ("useradd --system --no-create-home --shell /usr/sbin/nologin sample-service-logs", "true"),
    ],
)
def test_an_exporter_unit_that_is_not_confined_fails(inventories, old, new):
    script = boot_script(next(iter(inventories.values())))
    assert old in script
    assert _exporter_confinement_problems(script.replace(old, new, 1)) != []


# A stand-in journalctl: prints the entries of a JSON file given in $ENTRIES as journalctl --output=json
# does, only those after --after-cursor when given, and records its arguments.
_JOURNAL = """import json, os, sys
entries = json.load(open(os.environ["ENTRIES"]))
with open(os.environ["ENTRIES"] + ".args", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
after = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--after-cursor=")]
if after:
    entries = entries[[e["__CURSOR"] for e in entries].index(after[0]) + 1:]
for entry in entries:
    print(json.dumps(entry))
"""
_DAY = 86_400_000_000  # microseconds


def _entry(n: int, day: int, message) -> dict:
    # 2026-11-20T12:00:00Z plus `day` days
    return {
        "__CURSOR": f"c{n}",
        "__REALTIME_TIMESTAMP": str(1_795_176_000_000_000 + day * _DAY),
        "MESSAGE": message,
    }


def _run_exporter(inventory: Inventory, tmp_path, entries: list[dict], **settings: str):
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "journalctl.py").write_text(_JOURNAL)
    (tmp_path / "entries.json").write_text(json.dumps(entries))
    program = tmp_path / "log_export.py"
    program.write_text(_exporter(boot_script(inventory)))
    environment = {
        **os.environ,
        "ENTRIES": str(tmp_path / "entries.json"),
        "JOURNAL_COMMAND": f"{sys.executable} {tmp_path / 'journalctl.py'} --unit=sample-service.service",
        "LOG_DIRECTORY": str(tmp_path / "logs"),
        "CURSOR_FILE": str(tmp_path / "state" / "cursor"),
        **settings,
    }
    return subprocess.run([sys.executable, str(program)], env=environment, capture_output=True, timeout=30)


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
def test_the_exporter_writes_a_file_a_day_keeps_the_agents_two_days_and_resumes(
    inventory: Inventory, tmp_path
):
    from azure_stack import service_logs

    entries = [
        _entry(1, 0, '{"level": "INFO", "message": "started"}'),
        _entry(2, 1, list(b"not utf-8 \xff")),
        _entry(3, 3, '{"level": "INFO", "message": "request"}'),
        _entry(4, 3, '{"level": "ERROR", "message": "two\nlines"}'),
    ]
    result = _run_exporter(inventory, tmp_path, entries)
    # The journal ended (it never does when followed): a failure, so systemd starts the exporter again.
    assert result.returncode == 1 and b"the journal ended" in result.stderr
    logs = tmp_path / "logs"
    # Day 0 is more than KEEP_DAYS older than day 3 and deleted; day 1 is kept.
    assert service_logs.KEEP_DAYS == 2
    assert sorted(p.name for p in logs.iterdir()) == ["2026-11-21.log", "2026-11-23.log"]
    assert (logs / "2026-11-21.log").read_text() == "not utf-8 \ufffd\n"
    assert (logs / "2026-11-23.log").read_text().splitlines() == [
        '{"level": "INFO", "message": "request"}',
        '{"level": "ERROR", "message": "two lines"}',
    ]
    assert (tmp_path / "state" / "cursor").read_text() == "c4"
    # A restart resumes after the last entry written: nothing is written twice.
    entries.append(_entry(5, 3, "later"))
    _run_exporter(inventory, tmp_path, entries)
    assert (tmp_path / "entries.json.args").read_text().splitlines()[-1].endswith("--after-cursor=c4")
    assert (logs / "2026-11-23.log").read_text().splitlines()[-2:] == [
        '{"level": "ERROR", "message": "two lines"}',
        "later",
    ]


def test_the_exporters_budget_is_its_share_of_the_os_disk_the_fleet_sets(inventory: Inventory):
    from azure_stack import service_logs

    scale_set = inventory.only("azure-native:compute:VirtualMachineScaleSet")
    disk_gib = scale_set.get("virtualMachineProfile.storageProfile.osDisk.diskSizeGB")
    budget = int(disk_gib * 2**30 * service_logs.DISK_SHARE)
    assert f'"BUDGET_BYTES", "{budget}"' in _exporter(boot_script(inventory))
    # A day at the review's sustained load (500 requests a second, ~200 bytes a line) fits whole on the
    # smallest disk, and the files leave most of it to the system and the journal.
    assert 500 * 200 * 86_400 < budget <= disk_gib * 2**30 / 2


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
def test_the_exporter_deletes_the_oldest_files_past_its_budget_then_drops_the_days_rest(
    inventory: Inventory, tmp_path
):
    from azure_stack import service_logs

    from sample_service import log_fields

    line = "x" * 99  # 100 bytes a line in the file
    days = [0, 0, 1, 1, 2, 2, 2, 2, 2]
    entries = [_entry(n, day, f"{line[:-1]}{n}") for n, day in enumerate(days)]
    # Three lines fit: day 0 is within KEEP_DAYS of day 2, so only the budget deletes it.
    assert service_logs.KEEP_DAYS >= 2
    result = _run_exporter(inventory, tmp_path, entries, BUDGET_BYTES="350")
    assert result.returncode == 1
    logs = tmp_path / "logs"
    # Oldest first: day 0 goes when day 1's second line comes, day 1 when day 2's second does.
    assert sorted(p.name for p in logs.iterdir()) == ["2026-11-22.log"]
    *kept, last = (logs / "2026-11-22.log").read_text().splitlines()
    assert kept == [f"{line[:-1]}{n}" for n in (4, 5, 6)]
    # Today's file alone reached the budget: one line says so, with the line's own time, and the rest of
    # the day is dropped, not retried (the cursor moves on).
    warning = json.loads(last)
    assert warning["level"] == "ERROR" and "350 bytes" in warning["message"]
    assert warning[log_fields.TIME].startswith("2026-11-22T12:00:00")
    assert b"reached 350 bytes" in result.stderr
    assert (tmp_path / "state" / "cursor").read_text() == "c8"


def test_every_download_retries_every_error_within_the_boot_budget(inventory: Inventory):
    from azure_stack.boot import BOOT_BUDGET

    script = boot_script(inventory)
    # A new instance gets 403 from storage until its role assignment propagates: `retry` retries any error,
    # until one deadline shared by every download, the boot budget's share for them.
    assert f"DOWNLOAD_DEADLINE=$((SECONDS + {BOOT_BUDGET.download_seconds}))" in script
    commands = script.replace("\\\n", " ").splitlines()
    downloads = [line for line in commands if re.search(r"\bfetch\s+['\"]", line)]
    assert len(downloads) == 2, downloads  # the token, the bundle
    assert all("retry $((DOWNLOAD_DEADLINE - SECONDS)) '" in line for line in downloads), downloads


def test_the_boot_budget_covers_a_role_assignments_propagation_and_sets_repair_and_rollout(
    inventory: Inventory, spec
):
    from azure_stack.boot import BOOT_BUDGET
    from azure_stack.fleet import repair_grace

    # "Role assignment changes can take up to 10 minutes to take effect" (Troubleshoot Azure RBAC).
    assert BOOT_BUDGET.download_seconds >= 600
    scale_set = inventory.only("azure-native:compute:VirtualMachineScaleSet")
    assert scale_set.get("automaticRepairsPolicy.gracePeriod") == repair_grace(BOOT_BUDGET.seconds)
    assert int(repair_grace(BOOT_BUDGET.seconds)[2:-1]) * 60 >= BOOT_BUDGET.seconds
    rolling = scale_set.get("upgradePolicy.rollingUpgradePolicy")
    # Not the boot budget: five batches of 20 % would each wait out a whole boot again (over an hour).
    assert rolling["pauseTimeBetweenBatches"] == f"PT{spec.capacity.warmup_seconds}S"


def _cooldown_seconds(rule: dict) -> int:
    match = re.fullmatch(r"PT(\d+)S", rule["scaleAction"]["cooldown"])
    assert match, rule["scaleAction"]["cooldown"]
    return int(match.group(1))


def test_the_autoscale_cooldown_is_a_normal_boot_so_a_scale_out_to_max_fits_within_an_hour(
    inventory: Inventory, spec
):
    from azure_stack.boot import BOOT_BUDGET

    # "Understand autoscale settings" (learn.microsoft.com/azure/azure-monitor/autoscale/
    # autoscale-understanding-settings): after a scale action autoscale waits out the cooldown before it
    # scales again. A scale-out reuses the fleet's identity, so it waits for no role assignment: a normal
    # boot, not the budget (which keeps the repair grace).
    autoscale = inventory.only("azure-native:monitor:AutoscaleSetting")
    (profile,) = autoscale.get("profiles")
    cooldowns = {_cooldown_seconds(rule) for rule in profile["rules"]}
    assert cooldowns == {BOOT_BUDGET.normal_seconds}
    assert BOOT_BUDGET.normal_seconds <= BOOT_BUDGET.seconds // 2
    # Min to max: the rule's time window fills with high CPU, then each step waits out a cooldown and the
    # next run of the autoscale job ("every 30 to 60 seconds", same page). Bound: one hour for every
    # environment (prod, 3 -> 12: 300 + 9 x 330 s); the whole budget as cooldown took over two.
    (step,) = {int(rule["scaleAction"]["value"]) for rule in profile["rules"]}
    steps = -(-(spec.capacity.max - spec.capacity.min) // step)
    window = int(re.fullmatch(r"PT(\d+)M", profile["rules"][0]["metricTrigger"]["timeWindow"]).group(1)) * 60
    job_interval = 60
    scale_out = window + steps * (BOOT_BUDGET.normal_seconds + job_interval)
    assert scale_out <= 3600, (steps, BOOT_BUDGET.normal_seconds)
    assert window + steps * (BOOT_BUDGET.seconds + job_interval) > 3600 or steps < 4  # the old cooldown


def _watcher(script: str) -> str:
    return script.split("terminate_watch.py <<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


def test_boot_installs_and_starts_the_terminate_watcher(inventory: Inventory):
    script = boot_script(inventory)
    assert "ExecStart=/usr/bin/python3 /usr/local/lib/sample-service/terminate_watch.py" in script
    assert "systemctl enable sample-service-terminate-watch" in script
    watcher = _watcher(script)
    assert "systemctl kill --signal=SIGUSR1 sample-service.service" in watcher
    assert "systemctl stop sample-service.service" in watcher
    assert "systemctl restart sample-service.service" in watcher


def test_the_watcher_waits_out_the_gateways_detection_time_by_default(inventory: Inventory):
    # Between leaving (the health path fails) and stopping (the listener closes), the gateway must have
    # seen enough failed probes to stop sending new requests.
    [default] = re.findall(r'"LEAVE_SECONDS", "([^"]*)"', _watcher(boot_script(inventory)))
    assert float(default) == gateway_detection_seconds()


class _FakeMetadata:
    """Azure's instance metadata service on 127.0.0.1: this VM's name, its scheduled events, approvals.
    The first scheduledevents GET answers after `first_events_delay` seconds, as the real one may; later
    GETs answer `later_events` if given (an event cancelled meanwhile disappears from the list)."""

    def __init__(
        self,
        events: list[dict],
        record,
        first_events_delay: float = 0,
        later_events: list[dict] | None = None,
    ):
        import http.server
        import json
        import threading
        import time

        fake = self
        self.approved: list[dict] = []
        self.events_gets = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                assert self.headers["Metadata"] == "true"
                if "/instance/compute/name" in self.path:
                    self._answer("vm-7")
                    return
                fake.events_gets += 1
                if fake.events_gets == 1:
                    time.sleep(first_events_delay)
                listed = events if fake.events_gets == 1 or later_events is None else later_events
                self._answer(json.dumps({"Events": listed}))

            def do_POST(self):
                assert self.headers["Metadata"] == "true" and self.path.startswith(
                    "/metadata/scheduledevents"
                )
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.approved.append(body)
                record("approve")
                self._answer("")

            def _answer(self, body: str):
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(body.encode())
                except BrokenPipeError:  # the watcher gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/metadata"


# Records when the watcher ran a command: appends "<what> <monotonic time>" to a file.
_RECORDER = """import sys, time
with open(sys.argv[1], "a") as log:
    log.write(f"{sys.argv[2]} {time.monotonic()}\\n")
"""


def _run_watcher(
    inventory: Inventory, tmp_path, events: list[dict], timeout: float, leave_seconds: float = 0.5, **fake
):
    import os
    import subprocess
    import sys
    import time

    steps = tmp_path / "steps"
    recorder = tmp_path / "record.py"
    recorder.write_text(_RECORDER)

    def record(what: str) -> None:
        with steps.open("a") as log:
            log.write(f"{what} {time.monotonic()}\n")

    metadata = _FakeMetadata(events, record, **fake)
    program = tmp_path / "terminate_watch.py"
    program.write_text(_watcher(boot_script(inventory)))
    environment = {
        **os.environ,
        "METADATA_URL": metadata.url,
        "LEAVE_COMMAND": f"{sys.executable} {recorder} {steps} leave",
        "LEAVE_SECONDS": str(leave_seconds),
        "STOP_COMMAND": f"{sys.executable} {recorder} {steps} stop",
        "RESTART_COMMAND": f"{sys.executable} {recorder} {steps} restart",
        "POLL_SECONDS": "0.05",
    }
    try:
        result = subprocess.run(
            [sys.executable, str(program)], env=environment, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        result = None
    finally:
        metadata.server.shutdown()
    lines = steps.read_text().splitlines() if steps.exists() else []
    timeline = [(what, float(at)) for what, at in (line.split() for line in lines)]
    return result, timeline, metadata


def test_the_watcher_leaves_waits_stops_then_approves_this_vms_termination(inventory: Inventory, tmp_path):
    # The rendered script's watcher, run against a fake metadata endpoint on 127.0.0.1.
    events = [
        {"EventId": "other-vm", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-9"]},
        {"EventId": "reboot", "EventType": "Reboot", "EventStatus": "Scheduled", "Resources": ["vm-7"]},
        {"EventId": "mine", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-7"]},
    ]
    leave_seconds = 0.5  # scaled down from the gateway's detection time, which the default is
    result, timeline, metadata = _run_watcher(
        inventory, tmp_path, events, timeout=20, leave_seconds=leave_seconds
    )
    assert result is not None and result.returncode == 0, result
    # Leave the gateway, wait out its detection, stop the service (which drains), then approve, once.
    assert [what for what, _ in timeline] == ["leave", "stop", "approve"], timeline
    (_, left), (_, stopped), _ = timeline
    assert stopped - left >= leave_seconds
    # Approved for this VM's termination only.
    assert metadata.approved == [{"StartRequests": [{"EventId": "mine"}]}]


def test_the_watcher_leaves_other_events_alone(inventory: Inventory, tmp_path):
    events = [
        {"EventId": "other-vm", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-9"]},
        {"EventId": "started", "EventType": "Terminate", "EventStatus": "Started", "Resources": ["vm-7"]},
        # A Freeze pauses the VM for seconds: not worth leaving the gateway.
        {"EventId": "freeze", "EventType": "Freeze", "EventStatus": "Scheduled", "Resources": ["vm-7"]},
        {"EventId": "other-reboot", "EventType": "Reboot", "EventStatus": "Scheduled", "Resources": ["vm-9"]},
    ]
    result, timeline, metadata = _run_watcher(inventory, tmp_path, events, timeout=1.5)
    assert result is None, "the watcher exited without a termination to handle"
    assert timeline == [] and metadata.approved == []


def test_the_watcher_waits_for_the_slow_first_scheduled_events_answer(inventories, tmp_path):
    # "Azure Metadata Service: Scheduled Events for Linux VMs" (Enabling and disabling Scheduled Events):
    # the first request enables the feature, and its answer may take up to two minutes. A short timeout
    # would abandon that first call and never see an answer that slow. One environment is enough: the
    # watcher is the same program in each.
    inventory = next(iter(inventories.values()))
    events = [
        {"EventId": "mine", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-7"]}
    ]
    result, timeline, metadata = _run_watcher(
        inventory, tmp_path, events, timeout=20, leave_seconds=0, first_events_delay=6
    )
    assert result is not None and result.returncode == 0, result
    assert "timed out" not in result.stderr, result.stderr
    # The first, slow answer is the one that was acted on; the second checks it still stands.
    assert metadata.events_gets == 2 and [what for what, _ in timeline] == ["leave", "stop", "approve"]


def _one(inventories) -> Inventory:
    """The watcher is the same program in every environment: one is enough for the slower runs."""
    return next(iter(inventories.values()))


def test_a_termination_cancelled_during_the_wait_restarts_the_service_and_keeps_watching(
    inventories, tmp_path
):
    # "Azure Metadata Service: Scheduled Events for Linux VMs": a cancelled event is removed from the
    # list. Stopping anyway would leave a VM that stays, with its service stopped, until automatic repair.
    mine = {"EventId": "mine", "EventType": "Terminate", "EventStatus": "Scheduled", "Resources": ["vm-7"]}
    other = {
        "EventId": "other-vm",
        "EventType": "Terminate",
        "EventStatus": "Scheduled",
        "Resources": ["vm-9"],
    }
    result, timeline, metadata = _run_watcher(
        _one(inventories), tmp_path, [mine, other], timeout=3, leave_seconds=0.5, later_events=[other]
    )
    assert result is None, "the watcher stopped watching after a cancelled termination"
    # A restart, not a stop: the new process starts not leaving, so the gateway takes the VM back.
    assert [what for what, _ in timeline] == ["leave", "restart"], timeline
    assert metadata.approved == [] and metadata.events_gets > 2


@pytest.mark.parametrize("event_type", ["Reboot", "Redeploy"])
def test_the_watcher_leaves_then_approves_this_vms_reboot_without_stopping(
    inventories, tmp_path, event_type: str
):
    # Host maintenance restarts the VM, and the service with it, while the gateway still routes here:
    # leave first and wait out its detection. The reboot stops the service; the watcher does not.
    events = [
        {"EventId": "other-vm", "EventType": event_type, "EventStatus": "Scheduled", "Resources": ["vm-9"]},
        {"EventId": "mine", "EventType": event_type, "EventStatus": "Scheduled", "Resources": ["vm-7"]},
    ]
    leave_seconds = 0.5
    result, timeline, metadata = _run_watcher(
        _one(inventories), tmp_path, events, timeout=20, leave_seconds=leave_seconds
    )
    assert result is not None and result.returncode == 0, result
    assert [what for what, _ in timeline] == ["leave", "approve"], timeline
    (_, left), (_, approved) = timeline
    assert approved - left >= leave_seconds
    assert metadata.approved == [{"StartRequests": [{"EventId": "mine"}]}]


def test_a_reboot_cancelled_during_the_wait_restarts_the_service(inventories, tmp_path):
    reboot = {"EventId": "mine", "EventType": "Redeploy", "EventStatus": "Scheduled", "Resources": ["vm-7"]}
    result, timeline, metadata = _run_watcher(
        _one(inventories), tmp_path, [reboot], timeout=3, leave_seconds=0.5, later_events=[]
    )
    assert result is None and [what for what, _ in timeline] == ["leave", "restart"], timeline
    assert metadata.approved == []
