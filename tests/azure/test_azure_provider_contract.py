"""Every resource of the program against what Azure documents and validates (tests/azure/provider_facts.py):
names against each type's ARM name rule, properties against the ARM schema of the pinned api-version,
diagnostic categories and alert metrics against what each resource type offers."""

from __future__ import annotations

import copy

import jsonschema
import pytest
from provider_facts import ARM_TYPES, DEFINITIONS, DIAGNOSTICS, METRICS, NAMES

from refarch.inventory import Inventory, Resource

AZ = "azure-native:"
# azure-native auto-names a resource without an explicit name: its logical name plus a random suffix.
AUTONAME_SUFFIX = "a1b2c3d4"


def physical_name(resource: Resource) -> str:
    rule = NAMES[resource.type.removeprefix(AZ)]
    return resource.inputs.get(rule["nameInput"]) or resource.name + AUTONAME_SUFFIX


def name_problems(inventory: Inventory) -> list[str]:
    problems = []
    for resource in inventory:
        typ = resource.type.removeprefix(AZ)
        if typ not in NAMES or typ.startswith("_"):
            continue
        name, rule = physical_name(resource), NAMES[typ]
        try:
            jsonschema.validate(name, rule["name"])
        except jsonschema.ValidationError as error:
            problems.append(f"{resource.type} {resource.name}: {name!r} ({rule['path']}): {error.message}")
    return problems


def test_every_name_meets_its_types_arm_rule(inventory: Inventory):
    named = [r for r in inventory if r.type.removeprefix(AZ) in NAMES]
    assert len(named) >= 10, "the name rules cover too few of the program's resources"
    assert name_problems(inventory) == []


def test_the_name_rule_refuses_the_derived_access_policy_assignment_name(inventory: Inventory):
    # The old inventory: no explicit name, so Pulumi derived one from "fleet-uses-sessions".
    broken = copy.deepcopy(inventory)
    assignment = broken.only(AZ + "redisenterprise:AccessPolicyAssignment")
    del assignment.inputs["accessPolicyAssignmentName"]
    (problem,) = name_problems(broken)
    assert "fleet-uses-sessions" in problem and "does not match" in problem


def _validate(value, typ: str, definition: str) -> None:
    vendored = DEFINITIONS[typ]
    schema = {"definitions": vendored["definitions"], "$ref": f"#/definitions/{definition}"}
    jsonschema.Draft4Validator(schema).validate(value)


def test_scale_set_properties_meet_the_arm_schema(inventory: Inventory):
    scale_set = inventory.only(AZ + "compute:VirtualMachineScaleSet")
    typ = "compute:VirtualMachineScaleSet"
    _validate(
        scale_set.get("virtualMachineProfile.osProfile.linuxConfiguration.patchSettings"),
        typ,
        "LinuxPatchSettings",
    )
    _validate(scale_set.get("virtualMachineProfile.scheduledEventsProfile"), typ, "ScheduledEventsProfile")
    _validate(scale_set.get("upgradePolicy.rollingUpgradePolicy"), typ, "RollingUpgradePolicy")
    # The guard refuses what ARM refuses: a percentage out of its range.
    broken = {**scale_set.get("upgradePolicy.rollingUpgradePolicy"), "maxUnhealthyInstancePercent": 101}
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken, typ, "RollingUpgradePolicy")


def test_api_management_properties_meet_the_arm_schema(inventory: Inventory):
    service = inventory.only(AZ + "apimanagement:ApiManagementService")
    properties = DEFINITIONS["apimanagement:ApiManagementService"]["definitions"][
        "ApiManagementServiceProperties"
    ]
    checked = 0
    # The properties whose schema is inline (enums, patterns, ranges); nested objects are defined elsewhere.
    for key, schema in properties["properties"].items():
        if key in service.inputs and "$ref" not in schema:
            jsonschema.validate(service.inputs[key], schema)
            checked += 1
    assert checked >= 4
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("Off", properties["properties"]["developerPortalStatus"])


def arm_type(resource_uri: str) -> str:
    """ARM type of a mock resource ID: .../providers/<module>/<Kind>/<name>[/<child>/<name>...]."""
    module, kind, _name, *rest = resource_uri.split("/providers/", 1)[1].split("/")
    return ARM_TYPES["/".join([module, kind, *rest[0::2]])]


def diagnostic_problems(inventory: Inventory) -> list[str]:
    problems = []
    for setting in inventory.of_type(AZ + "monitor:DiagnosticSetting"):
        typ = arm_type(setting.get("resourceUri"))
        offered = DIAGNOSTICS[typ]
        logs = setting.inputs.get("logs") or []
        metrics = {m["category"] for m in setting.inputs.get("metrics") or []}
        if logs and not offered.logs:
            problems.append(f"{setting.name}: {typ} has no logs")
        if offered.logs and not logs:
            problems.append(f"{setting.name}: {typ}'s logs are not collected")
        if metrics - offered.metrics:
            problems.append(
                f"{setting.name}: {typ} has no metric category {sorted(metrics - offered.metrics)}"
            )
        if offered.metrics and not metrics:
            problems.append(f"{setting.name}: {typ}'s metrics are not collected")
    return problems


def test_every_diagnostic_setting_names_categories_its_type_has(inventory: Inventory):
    assert diagnostic_problems(inventory) == []
    # Both halves of the cache are covered: the database's logs and the cluster's metrics.
    covered = {arm_type(s.get("resourceUri")) for s in inventory.of_type(AZ + "monitor:DiagnosticSetting")}
    assert covered == set(DIAGNOSTICS)


@pytest.mark.parametrize(
    "name, field, value, expected",
    [
        (
            "files-blobs-diagnostics",
            "metrics",
            [{"category": "AllMetrics", "enabled": True}],
            "no metric category",
        ),
        (
            "sessions-diagnostics",
            "metrics",
            [{"category": "AllMetrics", "enabled": True}],
            "no metric category",
        ),
        (
            "sessions-cluster-diagnostics",
            "logs",
            [{"categoryGroup": "allLogs", "enabled": True}],
            "has no logs",
        ),
        ("items-diagnostics", "metrics", None, "metrics are not collected"),
    ],
)
def test_the_diagnostic_guard_refuses_the_old_categories(inventory: Inventory, name, field, value, expected):
    broken = copy.deepcopy(inventory)
    setting = broken.named(name)
    setting.inputs[field] = value
    (problem,) = diagnostic_problems(broken)
    assert problem.startswith(name) and expected in problem


def test_every_metric_alert_uses_a_published_metric_at_its_grain(inventory: Inventory):
    alerts = inventory.of_type(AZ + "monitor:MetricAlert")
    assert alerts
    for alert in alerts:
        (criterion,) = alert.get("criteria.allOf")
        grains = METRICS[criterion["metricNamespace"]]
        assert criterion["metricName"] in grains, f"{alert.name}: {criterion['metricName']} is not published"
        every = int(alert.get("evaluationFrequency").removeprefix("PT").removesuffix("M"))
        assert every >= grains[criterion["metricName"]], (
            f"{alert.name} evaluates faster than the metric's grain"
        )
