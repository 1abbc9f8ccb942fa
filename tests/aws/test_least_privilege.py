"""The instance role may do exactly what the service does: the DynamoDB operations its store calls, on
its own table; no object storage (the service reads and writes none)."""

from __future__ import annotations

import fnmatch
import json

from cfn_queries import of_type
from service_facts import store_operations

from stacks.fleet import SESSION_MANAGER_ACTIONS


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


def _role_statements(resources: dict, role_id: str) -> list[dict]:
    """Every statement that applies to one role: inline, attached policies, and customer-managed policies.
    An AWS-managed policy's statements are not in the template: it fails here, as it cannot be checked."""
    role = resources[role_id]["Properties"]
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for body in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in body["Properties"].get("Roles", []):
            statements += body["Properties"]["PolicyDocument"]["Statement"]
    for arn in role.get("ManagedPolicyArns", []):
        assert "Ref" in arn, f"an AWS-managed policy on {role_id} cannot be checked: {arn}"
        statements += resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _fleet_role(resources: dict) -> str:
    (profile,) = of_type(resources, "AWS::IAM::InstanceProfile").values()
    (role,) = profile["Properties"]["Roles"]
    return role["Ref"]


def test_instances_cannot_read_ssm_parameters(resources):
    # AmazonSSMManagedInstanceCore grants ssm:GetParameter(s) on "*" (AWS managed policy reference): any
    # instance could read every parameter of the account. Session Manager needs none of it.
    for statement in _role_statements(resources, _fleet_role(resources)):
        for action in _actions(statement):
            for read in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"):
                assert not fnmatch.fnmatchcase(read, action), statement


def test_instances_keep_session_manager(resources):
    # The agent still registers and opens session channels: "no SSH" must not become "no access".
    granted_actions = {a for s in _role_statements(resources, _fleet_role(resources)) for a in _actions(s)}
    assert set(SESSION_MANAGER_ACTIONS) <= granted_actions
