"""How the service meets its stack: the environment the launch template's user data writes, and the
instance role's grants."""

from __future__ import annotations

import itertools
import re
from typing import Any

from tools.docs.aws.template import Template, TemplateError, ref_id

LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"
LOG_GROUP = "AWS::Logs::LogGroup"


def service_environment(template: Template) -> dict[str, str]:
    """The service's settings as the launch template's user data writes them to /etc/sample-service.env
    (literal lines only; values CloudFormation fills in at deploy are left out)."""
    data = template.prop(LAUNCH_TEMPLATE, "LaunchTemplateData.UserData.Fn::Base64.Fn::Join")[1]
    text = "".join(part if isinstance(part, str) else "\0" for part in data)
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=([^\0\n]+)$", text, flags=re.MULTILINE))


def user_data_variable(template: Template, name: str) -> str:
    """The logical id whose value the user data writes into `NAME=` (how a name reaches the instances)."""
    data = template.prop(LAUNCH_TEMPLATE, "LaunchTemplateData.UserData.Fn::Base64.Fn::Join")[1]
    for before, value in itertools.pairwise(data):
        if isinstance(before, str) and before.endswith(f"\n{name}=") and ref_id(value):
            return ref_id(value)
    raise TemplateError(f"aws {template.environment}: the user data sets no {name} from a resource")


def service_log_group(template: Template) -> str:
    """The service's log group: the one the instance role may write to."""
    for statement in fleet_statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        target = ref_id(statement.get("Resource"))
        if "logs:PutLogEvents" in actions and target and template.type_of(target) == LOG_GROUP:
            return target
    raise TemplateError(f"aws {template.environment}: the instance role may write to no log group")


def fleet_role(template: Template) -> str:
    _, profile = template.only("AWS::IAM::InstanceProfile")
    return ref_id(profile["Roles"][0])


def fleet_statements(template: Template) -> list[dict[str, Any]]:
    role = fleet_role(template)
    return [
        statement
        for body in template.of_type("AWS::IAM::Policy").values()
        if any(ref_id(r) == role for r in body["Properties"].get("Roles", []))
        for statement in body["Properties"]["PolicyDocument"]["Statement"]
    ]
