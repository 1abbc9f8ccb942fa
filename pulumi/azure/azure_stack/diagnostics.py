"""Diagnostic settings: every service that has logs or metrics sends them to the stack's workspace.

Categories differ by resource type (a blob service exports its metrics as `Transaction`, a Cosmos DB account
as `Requests`, a Redis database has logs only): each caller names what its resource type offers, and
tests/azure/provider_facts.py checks every setting against the documented categories.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native.monitor as monitor

ALL_METRICS = "AllMetrics"


def send_diagnostics(
    name: str,
    *,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    logs: bool = True,
    metrics: str | None = ALL_METRICS,
) -> monitor.DiagnosticSetting:
    return monitor.DiagnosticSetting(
        f"{name}-diagnostics",
        resource_uri=resource_id,
        workspace_id=workspace_id,
        # Resource-specific tables (AGWAccessLogs, ...) rather than the shared AzureDiagnostics table.
        log_analytics_destination_type="Dedicated",
        logs=[{"category_group": "allLogs", "enabled": True}] if logs else None,
        metrics=[{"category": metrics, "enabled": True}] if metrics else None,
        opts=pulumi.ResourceOptions(parent=parent),
    )
