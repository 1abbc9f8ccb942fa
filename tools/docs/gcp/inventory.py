"""The resource types of a GCP offline-preview inventory (refarch/inventory.py) the documents read, named
once for the fact, cost, graph and state readers (Pulumi type tokens, as the preview lists them)."""

from __future__ import annotations

from refarch.inventory import Inventory

GROUP = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
HEALTH_CHECK = "gcp:compute/healthCheck:HealthCheck"
BACKEND = "gcp:compute/backendService:BackendService"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
NAT = "gcp:compute/routerNat:RouterNat"
FIREWALL = "gcp:compute/firewall:Firewall"
FORWARDING_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
CACHE = "gcp:redis/instance:Instance"
DATABASE = "gcp:firestore/database:Database"
BACKUPS = "gcp:firestore/backupSchedule:BackupSchedule"
TTL_FIELD = "gcp:firestore/field:Field"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_GRANT = "gcp:secretmanager/secretIamMember:SecretIamMember"
PROJECT_GRANT = "gcp:projects/iAMMember:IAMMember"
CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
GATEWAY = "gcp:apigateway/gateway:Gateway"
UPTIME_CHECK = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"

# The stack output recording the spec's alarms.escalation (gcp_stack/program.py exports it).
ESCALATION_OUTPUT = "escalation"


def escalation(inventory: Inventory) -> str | None:
    """Who to page when a runbook says Escalation, as the stack's output records it; None when unset."""
    return inventory.outputs.get(ESCALATION_OUTPUT)
