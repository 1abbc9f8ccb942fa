"""Small queries over a synthesized CloudFormation template."""

from __future__ import annotations


def of_type(resources: dict[str, dict], resource_type: str) -> dict[str, dict]:
    found = {name: body for name, body in resources.items() if body["Type"] == resource_type}
    assert found, f"no {resource_type} in the template"
    return found


def only(resources: dict[str, dict], resource_type: str) -> dict:
    found = of_type(resources, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))["Properties"]


def ref_id(value: dict) -> str:
    """The logical id a {"Ref": ...} or {"Fn::GetAtt": [...]} points at."""
    if "Ref" in value:
        return value["Ref"]
    return value["Fn::GetAtt"][0]


def ingress_sources(resources: dict[str, dict], group_id: str) -> set[tuple[str, int]]:
    """(source security group logical id or CIDR, port) of every ingress rule into one security group."""
    sources = set()
    for body in of_type(resources, "AWS::EC2::SecurityGroupIngress").values():
        props = body["Properties"]
        if ref_id(props["GroupId"]) == group_id:
            source = (
                ref_id(props["SourceSecurityGroupId"])
                if "SourceSecurityGroupId" in props
                else props["CidrIp"]
            )
            sources.add((source, props["FromPort"]))
    for rule in resources[group_id]["Properties"].get("SecurityGroupIngress", []):
        sources.add((rule.get("CidrIp") or ref_id(rule["SourceSecurityGroupId"]), rule["FromPort"]))
    return sources
