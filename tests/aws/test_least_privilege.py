"""The instance role may do exactly what the service does: the DynamoDB operations its store calls, on
its own table; no object storage (the service reads and writes none)."""

from __future__ import annotations

import json

from cfn_queries import of_type
from service_facts import store_operations


def _instance_statements(resources: dict) -> list[dict]:
    (policy,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for name, body in of_type(resources, "AWS::IAM::Policy").items()
        if name.startswith("FleetInstanceRole")
    ]
    return policy


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def granted(resources: dict, service: str) -> set[str]:
    return {
        action
        for statement in _instance_statements(resources)
        for action in _actions(statement)
        if action.startswith(f"{service}:")
    }


def test_dynamodb_actions_are_exactly_the_operations_the_store_calls(resources):
    assert granted(resources, "dynamodb") == {f"dynamodb:{operation}" for operation in store_operations()}
    for statement in _instance_statements(resources):
        if any(action.startswith("dynamodb:") for action in _actions(statement)):
            assert "ItemStore" in json.dumps(statement["Resource"]) and "*" not in json.dumps(
                statement["Action"]
            )


def test_the_service_gets_no_access_to_the_files_bucket(resources):
    for statement in _instance_statements(resources):
        assert "ObjectStorageFiles" not in json.dumps(statement["Resource"]), statement
