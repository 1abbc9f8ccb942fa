"""The user data reaches only the destinations in stacks.boot's table (each with how the instance reaches it
privately), and runs only the package commands listed there: a boot that would reach PyPI, another mirror or
any host outside AWS fails here. The S3 gateway endpoint those commands rely on serves every fleet subnet,
and its policy (if any) lets the Amazon Linux 2023 repository buckets through."""

from __future__ import annotations

import copy
import fnmatch
import re

import pytest
from cfn_queries import of_type, only, ref_id
from test_boot import _user_data

from refarch.boot_destinations import hosts, package_commands, unexpected
from stacks.boot import BOOT_DESTINATIONS, PACKAGE_COMMANDS

# The Amazon Linux 2023 repositories are S3 buckets named al2023-repos-<region>-<suffix>; dnf reaches them at
# al2023-repos-<region>-<suffix>.s3.dualstack.<region>.amazonaws.com ("Amazon Linux 2023 User Guide: Package
# repository"; e.g. al2023-repos-ap-northeast-1-de612dc2). A gateway endpoint policy must allow them.
AL2023_REPOSITORY_OBJECTS = (
    "arn:aws:s3:::al2023-repos-{region}-de612dc2/core/mirrors/latest/x86_64/mirror.list"
)


def test_the_user_data_reaches_only_its_allowed_destinations(resources):
    script = _user_data(resources)
    assert unexpected(script, BOOT_DESTINATIONS, PACKAGE_COMMANDS) == []
    # No URL at all: the AWS CLI and dnf find their endpoints themselves (IMDS, S3, the repository).
    assert hosts(script) == set()
    commands = package_commands(script)
    assert len(commands) == len(PACKAGE_COMMANDS) == 2
    assert all(any(re.search(pattern, c) for c in commands) for pattern in PACKAGE_COMMANDS)


# Lines of the boot before the release bundle (main at a2f3f25), and other ways out: each must be refused.
OLD_AND_OTHER_WAYS_OUT = [
    "dnf install -y python3.11 unzip rsyslog amazon-cloudwatch-agent",
    '"$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"',
    "retry $((DOWNLOAD_DEADLINE - SECONDS)) 'OS packages' dnf install -y -q python3.11 rsyslog",
    "retry $((DOWNLOAD_DEADLINE - SECONDS)) 'x' dnf install -y -q --repo amazonlinux python3.11 rsyslog"
    " amazon-cloudwatch-agent https://example.com/x.rpm",
    "aws s3 cp 's3://bucket/key' \"$DIR/bundle.zip\" --only-show-errors",
    # Without its region the CLI may start at the global endpoint, which no gateway endpoint serves.
    "retry $((DOWNLOAD_DEADLINE - SECONDS)) 'release bundle download' aws s3 cp 's3://bucket/key'"
    ' "$DIR/bundle.zip" --only-show-errors',
    "curl -sSf https://files.pythonhosted.org/packages/x.whl -o /tmp/x.whl",
    "retry 60 wheel fetch https://pypi.org/simple/boto3/ /tmp/x",
]


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
@pytest.mark.parametrize("line", OLD_AND_OTHER_WAYS_OUT)
def test_any_other_destination_or_package_command_fails(resources, line: str):
    assert unexpected(_user_data(resources) + line + "\n", BOOT_DESTINATIONS, PACKAGE_COMMANDS) != []


def _allows(statement: dict, resource: str) -> bool:
    resources = statement.get("Resource", [])
    resources = [resources] if isinstance(resources, str) else resources
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    return any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources) and any(
        fnmatch.fnmatchcase("s3:GetObject", action) for action in actions
    )


def _service(name: str | dict) -> str:
    """com.amazonaws.<region>.s3, with the region token left out."""
    return name if isinstance(name, str) else "".join(p for p in name["Fn::Join"][1] if isinstance(p, str))


def gateway_problems(resources: dict[str, dict], region: str) -> list[str]:
    """Why the fleet's boot could not reach S3 privately: no S3 gateway endpoint on every fleet subnet's route
    table, or a policy that keeps the AL2023 repositories out (no policy is the default: full access)."""
    group = only(resources, "AWS::AutoScaling::AutoScalingGroup")
    subnets = {ref_id(subnet) for subnet in group["VPCZoneIdentifier"]}
    tables = {
        ref_id(body["Properties"]["RouteTableId"])
        for body in of_type(resources, "AWS::EC2::SubnetRouteTableAssociation").values()
        if ref_id(body["Properties"]["SubnetId"]) in subnets
    }
    endpoints = [
        body["Properties"]
        for body in of_type(resources, "AWS::EC2::VPCEndpoint").values()
        if body["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
        and _service(body["Properties"]["ServiceName"]).endswith(".s3")
    ]
    if not endpoints:
        return ["no S3 gateway endpoint"]
    problems = []
    for endpoint in endpoints:
        missing = tables - {ref_id(table) for table in endpoint.get("RouteTableIds", [])}
        if missing:
            problems.append(f"the S3 gateway endpoint is not on the fleet's route tables {sorted(missing)}")
        policy = endpoint.get("PolicyDocument")
        repository = AL2023_REPOSITORY_OBJECTS.format(region=region)
        if policy is not None:
            statements = policy.get("Statement", [])
            denied = any(s["Effect"] == "Deny" and _allows(s, repository) for s in statements)
            allowed = any(s["Effect"] == "Allow" and _allows(s, repository) for s in statements)
            if denied or not allowed:
                problems.append("the S3 gateway endpoint's policy keeps out the AL2023 repositories")
    return problems


def test_the_s3_gateway_endpoint_serves_the_fleet_and_lets_the_al2023_repositories_through(resources):
    from tests.aws.conftest import REGION

    assert gateway_problems(resources, REGION) == []


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
def test_a_missing_endpoint_a_missing_route_table_or_a_narrow_policy_is_found(resources):
    from tests.aws.conftest import REGION

    def mutated(change) -> dict[str, dict]:
        copied = copy.deepcopy(resources)
        for body in of_type(copied, "AWS::EC2::VPCEndpoint").values():
            change(body)
        return copied

    dynamodb_only = mutated(lambda body: body["Properties"].update(ServiceName="com.amazonaws.x.dynamodb"))
    assert gateway_problems(dynamodb_only, REGION) == ["no S3 gateway endpoint"]
    no_app_routes = mutated(
        lambda body: body["Properties"].update(
            RouteTableIds=[t for t in body["Properties"]["RouteTableIds"] if "app" not in t["Ref"]]
        )
    )
    assert "not on the fleet's route tables" in gateway_problems(no_app_routes, REGION)[0]
    own_buckets_only = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Principal": "*", "Resource": "arn:aws:s3:::cdk-*"}
        ]
    }
    narrow = mutated(lambda body: body["Properties"].update(PolicyDocument=own_buckets_only))
    assert gateway_problems(narrow, REGION) == [
        "the S3 gateway endpoint's policy keeps out the AL2023 repositories"
    ]
    with_repositories = copy.deepcopy(own_buckets_only)
    with_repositories["Statement"][0]["Resource"] = ["arn:aws:s3:::cdk-*", "arn:aws:s3:::al2023-repos-*/*"]
    assert (
        gateway_problems(
            mutated(lambda body: body["Properties"].update(PolicyDocument=with_repositories)), REGION
        )
        == []
    )
