"""Diagnostic settings: every service that has logs or metrics sends them to the stack's workspace."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.monitor as monitor


def send_diagnostics(
    name: str,
    *,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    metrics: bool = True,
) -> monitor.DiagnosticSetting:
    return monitor.DiagnosticSetting(
        f"{name}-diagnostics",
        resource_uri=resource_id,
        workspace_id=workspace_id,
        # Resource-specific tables (AGWAccessLogs, ...) rather than the shared AzureDiagnostics table.
        log_analytics_destination_type="Dedicated",
        logs=[{"category_group": "allLogs", "enabled": True}],
        metrics=[{"category": "AllMetrics", "enabled": True}] if metrics else None,
        opts=pulumi.ResourceOptions(parent=parent),
    )
