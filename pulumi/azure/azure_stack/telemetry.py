"""Monitoring tier, part one: where telemetry goes (Log Analytics, Application Insights) and whom alerts
notify (an action group). Created first, so every other tier can send its diagnostics here."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.applicationinsights as applicationinsights
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

from azure_stack import service_logs
from azure_stack.placement import Placement
from azure_stack.tier import Tier

# Log Analytics keeps at least 30 days on the PerGB2018 tier; shorter spec retention is rounded up.
MIN_WORKSPACE_RETENTION_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class ServiceTelemetryArgs:
    placement: Placement
    # The spec's log retention (`retention.log_days`); the workspace keeps at least its own minimum.
    log_retention_days: int
    # Whom the action group e-mails (`refarch-azure:alertEmail`, else the spec's `alarms.email`), if anyone.
    alert_email: str | None


class ServiceTelemetry(Tier):
    def __init__(
        self, name: str, args: ServiceTelemetryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ServiceTelemetry", name, opts)
        placement = args.placement
        child = self.child()
        common = {"resource_group_name": placement.resource_group_name, "location": placement.location}
        retention_days = max(args.log_retention_days, MIN_WORKSPACE_RETENTION_DAYS)
        self.workspace = operationalinsights.Workspace(
            "logs",
            **common,
            sku={"name": "PerGB2018"},
            retention_in_days=retention_days,
            tags=placement.tags,
            opts=child,
        )
        # The service's own logs, collected from every instance by the Azure Monitor Agent.
        self.service_log_table = operationalinsights.Table(
            "service-logs",
            resource_group_name=placement.resource_group_name,
            workspace_name=self.workspace.name,
            table_name=service_logs.TABLE,
            schema={"name": service_logs.TABLE, "columns": service_logs.table_columns()},
            retention_in_days=retention_days,
            opts=child,
        )
        self.insights = applicationinsights.Component(
            "insights",
            **common,
            kind="web",
            application_type="web",
            workspace_resource_id=self.workspace.id,
            ingestion_mode="LogAnalytics",
            retention_in_days=retention_days,
            tags=placement.tags,
            opts=child,
        )
        email = args.alert_email
        self.action_group = monitor.ActionGroup(
            "on-call",
            resource_group_name=placement.resource_group_name,
            location="global",
            # At most 12 characters; shown in SMS and e-mail subjects.
            group_short_name=f"svc-{placement.environment}"[:12],
            enabled=True,
            email_receivers=[{"name": "on-call", "email_address": email, "use_common_alert_schema": True}]
            if email
            else None,
            tags=placement.tags,
            opts=child,
        )
        self.register_outputs(
            {
                "workspaceId": self.workspace.id,
                "insightsId": self.insights.id,
                "actionGroupId": self.action_group.id,
            }
        )
