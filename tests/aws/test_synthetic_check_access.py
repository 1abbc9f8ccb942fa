"""The synthetic check reads its own client's secret and nothing else of the user pool, with permissions
that exist before its first run.

Cognito's DescribeUserPoolClient has no client-level resource (Service Authorization Reference, Amazon
Cognito User Pools: resource type userpool), so granting it would expose every client's secret. The
canary's secret is a Secrets Manager secret made from the client's ClientSecret attribute
(AWS::Cognito::UserPoolClient, Fn::GetAtt ClientSecret). Inline policies are part of the role: a separate
AWS::IAM::Policy without a DependsOn may attach after the canary's first run."""

from __future__ import annotations

import json

from cfn_queries import of_type, only, ref_id


def _canary_role(resources: dict) -> tuple[str, dict]:
    role = ref_id(only(resources, "AWS::Synthetics::Canary")["ExecutionRoleArn"])
    return role, resources[role]["Properties"]


def _inline_statements(role: dict) -> list[dict]:
    return [
        statement
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _attached_policies(resources: dict, role_id: str) -> list[str]:
    return [
        name
        for name, body in of_type(resources, "AWS::IAM::Policy").items()
        if {"Ref": role_id} in body["Properties"].get("Roles", [])
    ]


def test_the_canary_role_has_no_cognito_access(resources):
    role_id, role = _canary_role(resources)
    granted = [role, *(resources[name] for name in _attached_policies(resources, role_id))]
    assert "cognito-idp:" not in json.dumps(granted)


def test_the_canary_reads_only_its_own_client_secret(resources):
    canary = only(resources, "AWS::Synthetics::Canary")
    secret_id = ref_id(canary["RunConfig"]["EnvironmentVariables"]["CLIENT_SECRET_ID"])
    secret = resources[secret_id]["Properties"]
    clients = of_type(resources, "AWS::Cognito::UserPoolClient")
    client = ref_id(canary["RunConfig"]["EnvironmentVariables"]["CLIENT_ID"])
    assert secret["SecretString"] == {"Fn::GetAtt": [client, "ClientSecret"]} and client in clients
    _, role = _canary_role(resources)
    reads = [s for s in _inline_statements(role) if any(a.startswith("secretsmanager:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"]) for s in reads] == [
        (["secretsmanager:GetSecretValue"], {"Ref": secret_id})
    ]


def test_the_canary_permissions_exist_before_its_first_run(resources):
    # Every policy that names the canary's role is inline; no separate policy could attach after the run.
    role_id, _ = _canary_role(resources)
    assert _attached_policies(resources, role_id) == []
