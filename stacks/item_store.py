"""NoSQL tier: the DynamoDB table that holds the service's durable items."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from refarch.errors import Problem
from refarch.spec import EnvironmentSpec
from sample_service.dynamodb_layout import PARTITION_KEY, TTL_ATTRIBUTE
from stacks.acknowledgments import acknowledge_checkov
from stacks.encryption import data_key
from stacks.retention import removal_policy

# `cdk deploy -c items_table.<environment>=<table name>` points the fleet at another table of this account and
# region, such as a point-in-time restore of this one (runbooks/aws/<environment>/restore-store.md): its
# ITEMS_TABLE, the throttling alarm and the ItemsTableName output follow it. The fleet stays granted the
# stack's own table too: the instance refresh that carries the switch replaces instances batch by batch, and
# those not yet replaced (or put back by a rollback) still use the old table. The table this stack created
# stays, untouched, until the context is removed again.
SERVING_TABLE_CONTEXT = "items_table"
# `-c items_table_draining.<environment>=<table name>`: a table the fleet no longer serves but instances still
# being replaced use (switching back from a restored table): granted, not served, until the refresh is done.
DRAINING_TABLE_CONTEXT = "items_table_draining"
# DynamoDB's table names ("Supported data types and naming rules in Amazon DynamoDB", Developer Guide:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


def table_context_problems(environment: str, context: Mapping[str, Any]) -> list[Problem]:
    """A table named in the CDK context that DynamoDB would refuse, caught before anything is built."""
    problems = []
    for prefix in (SERVING_TABLE_CONTEXT, DRAINING_TABLE_CONTEXT):
        key = f"{prefix}.{environment}"
        value = context.get(key)
        if value is not None and not (isinstance(value, str) and TABLE_NAME.fullmatch(value)):
            problems.append(
                Problem(
                    key,
                    value,
                    "must be a DynamoDB table name: 3 to 255 of a-z, A-Z, 0-9, '_', '-', '.' "
                    f"(`-c {key}=<table>` or cdk.json context)",
                )
            )
    return problems


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
        draining = self.node.try_get_context(f"{DRAINING_TABLE_CONTEXT}.{spec.name}")
        # A restore keeps the source table's encryption settings, so the same key serves it.
        self.serving: dynamodb.ITable = (
            dynamodb.Table.from_table_attributes(self, "Serving", table_name=restored, encryption_key=key)
            if restored
            else self.table
        )
        # Every table an instance of the fleet may be using: the serving one, and during (or after) a switch
        # the one the instances not yet replaced still use.
        self.in_use: tuple[dynamodb.ITable, ...] = (self.serving,)
        if restored:
            self.in_use += (self.table,)
        if draining:
            old = dynamodb.Table.from_table_attributes(
                self, "Draining", table_name=draining, encryption_key=key
            )
            self.in_use += (old,)
