"""The bring-your-own-service contract (refarch/service_contract.py): the sample service keeps it, the stacks
rely on nothing else, and sample_service/CONTRACT.md says exactly what it holds."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path
from typing import Any

import pytest

from refarch import ROOT, service_contract
from refarch.boot import stop_timeout_seconds
from refarch.spec import Service
from sample_service import config, defaults
from sample_service.app import create_app
from sample_service.config import ServiceConfig

GUIDE = (ROOT / "sample_service" / "CONTRACT.md").read_text()
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \| (.+) \|$", re.MULTILINE)


def variables_the_service_reads() -> set[str]:
    """Every variable name sample_service/config.py mentions (all it reads go through it)."""
    tree = ast.parse(Path(config.__file__).read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", node.value)
    }


def test_the_contract_lists_every_variable_the_service_reads_and_no_other():
    assert set(service_contract.VARIABLES) == variables_the_service_reads()


def test_the_guide_s_table_is_the_contract_s():
    assert dict(ROW.findall(GUIDE)) == service_contract.VARIABLES


def test_the_guide_states_each_fact_as_the_contract_holds_it():
    grace = defaults.SHUTDOWN_GRACE_SECONDS
    after_grace = stop_timeout_seconds(Service()) - Service().shutdown_grace_seconds
    facts = [
        f"`{service_contract.PORT_VARIABLE}` (default {service_contract.PORT})",
        f"**`{service_contract.HEALTH_PATH}`** (shallow)",
        f"**`{service_contract.READY_PATH}`** (deep)",
        f"**{service_contract.STOP_SIGNAL.name}**",
        f"`SHUTDOWN_GRACE_SECONDS` (default {grace})",
        f"what is left {after_grace} seconds after the grace period",
        f"**{service_contract.LEAVE_SIGNAL.name}** (Azure",
        f"`{service_contract.HEALTH_PATH}`\n  with {service_contract.LEAVING_STATUS}",
    ]
    assert [fact for fact in facts if fact not in GUIDE] == []


def test_the_paths_are_routes_of_the_service():
    environment = {
        "CACHE_HOST": "cache",
        "STORE_BACKEND": "dynamodb",
        "ITEMS_TABLE": "items",
        "AWS_REGION": "eu-west-1",
    }
    app = create_app(ServiceConfig.from_env(environment), sessions=object(), items=object())
    routes = {(route.method, route.resource.canonical) for route in app.router.routes()}
    assert {("GET", service_contract.HEALTH_PATH), ("GET", service_contract.READY_PATH)} <= routes


def test_the_stacks_send_the_contract_s_signals():
    unit = (ROOT / "refarch" / "service_unit.sh").read_text()
    assert f"KillSignal={service_contract.STOP_SIGNAL.name}\n" in unit
    watch = (ROOT / "pulumi" / "azure" / "azure_stack" / "terminate_watch.py").read_text()
    assert f"systemctl kill --signal={service_contract.LEAVE_SIGNAL.name} " in watch


@pytest.mark.servers
def test_the_sample_service_keeps_the_contract(start_service: Any) -> None:
    service = start_service()
    assert service.request("GET", service_contract.HEALTH_PATH).status == 200
    assert service.request("GET", service_contract.READY_PATH).status == 200
    service.proc.send_signal(service_contract.LEAVE_SIGNAL)
    deadline = time.monotonic() + 5
    while (health := service.request("GET", service_contract.HEALTH_PATH)).status == 200:
        assert time.monotonic() < deadline, "the health path still answers 200 after the leave signal"
        time.sleep(0.05)
    assert health.status == service_contract.LEAVING_STATUS
    assert service.request("POST", "/sessions", {}).status == 201
    service.proc.send_signal(service_contract.STOP_SIGNAL)
    assert service.proc.wait(timeout=defaults.SHUTDOWN_GRACE_SECONDS + 10) == 0
