"""Key policies must be accepted in a fresh account, and narrow what they open.

KMS, CreateKey "Policy": every principal must exist when the key is created, or CreateKey fails with
MalformedPolicyDocumentException. Auto Scaling's service-linked role (AWSServiceRoleForAutoScaling) exists
only after the account's first Auto Scaling group, so no key policy may name it, or any service-linked role,
as principal; it is matched by condition instead (IAM, "aws:PrincipalArn"; KMS, "kms:CallerAccount",
"kms:ViaService")."""

from __future__ import annotations

import json

from cfn_queries import of_type, ref_id

SERVICE_LINKED_ROLE_PATH = ":role/aws-service-role/"


def _statements(key: dict) -> list[dict]:
    return key["Properties"]["KeyPolicy"]["Statement"]


def _aws_principals(statement: dict) -> list:
    principal = statement.get("Principal", {})
    found = principal.get("AWS", []) if isinstance(principal, dict) else [principal]
    return found if isinstance(found, list) else [found]


def test_no_key_policy_names_a_service_linked_role(synthesized):
    for stack in synthesized.templates.values():
        for name, key in of_type(stack["Resources"], "AWS::KMS::Key").items():
            for statement in _statements(key):
                principals = json.dumps(_aws_principals(statement))
                assert SERVICE_LINKED_ROLE_PATH not in principals, (name, statement)


def test_wildcard_principals_are_narrowed_to_this_account_and_one_service(synthesized):
    for stack in synthesized.templates.values():
        for name, key in of_type(stack["Resources"], "AWS::KMS::Key").items():
            for statement in _statements(key):
                if "*" in _aws_principals(statement):
                    equals = statement["Condition"]["StringEquals"]
                    assert {"kms:CallerAccount", "kms:ViaService", "aws:PrincipalArn"} <= set(equals), name


def test_auto_scaling_may_publish_to_the_encrypted_topic(resources):
    # The fleet's group notifies this topic; its key lets Auto Scaling's role encrypt through SNS.
    (group,) = of_type(resources, "AWS::AutoScaling::AutoScalingGroup").values()
    (notification,) = group["Properties"]["NotificationConfigurations"]
    topic = resources[ref_id(notification["TopicARN"])]
    key = resources[ref_id(topic["Properties"]["KmsMasterKeyId"])]
    allowed = [
        statement["Condition"]["StringEquals"]
        for statement in _statements(key)
        if "*" in _aws_principals(statement)
        and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(statement["Action"])
    ]
    assert len(allowed) == 1
    assert "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" in json.dumps(
        allowed[0]["aws:PrincipalArn"]
    )
    assert "sns." in json.dumps(allowed[0]["kms:ViaService"])
