"""NoSQL tier: the DynamoDB table that holds the service's durable items."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from refarch.spec import EnvironmentSpec
from sample_service.stores.dynamodb import PARTITION_KEY, TTL_ATTRIBUTE
from stacks.acknowledgments import acknowledge_checkov
from stacks.encryption import data_key
from stacks.retention import removal_policy

# `cdk deploy -c items_table.<environment>=<table name>` points the fleet at another table of this account and
# region, such as a point-in-time restore of this one (runbooks/aws/<environment>/restore-store.md): the
# fleet's grants, its ITEMS_TABLE, the throttling alarm and the ItemsTableName output follow it; the table
# this stack created stays, untouched, until the context is removed again.
SERVING_TABLE_CONTEXT = "items_table"


class ItemStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, spec: EnvironmentSpec) -> None:
        super().__init__(scope, construct_id)
        key = data_key(self, spec)
        self.table = dynamodb.Table(
            self,
            "Items",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=spec.store.point_in_time_recovery
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            deletion_protection=spec.store.deletion_protection,
            # A protected table is also kept if the stack is deleted.
            removal_policy=RemovalPolicy.RETAIN if spec.store.deletion_protection else removal_policy(spec),
        )
        if key is None:
            acknowledge_checkov(
                self.table.node.default_child, "CKV_AWS_119", reason_key="CKV_AWS_119 AWS-managed keys"
            )
        restored = self.node.try_get_context(f"{SERVING_TABLE_CONTEXT}.{spec.name}")
        # A restore keeps the source table's encryption settings, so the same key serves it.
        self.serving: dynamodb.ITable = (
            dynamodb.Table.from_table_attributes(self, "Serving", table_name=restored, encryption_key=key)
            if restored
            else self.table
        )
