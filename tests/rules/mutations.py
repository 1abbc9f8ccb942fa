"""One mutation per rule per cloud: a deep copy of a real stack, broken the way a fork might break it.

Each mutation finds what it changes by type and property, never by logical id or name, so it keeps working
while the stacks change.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from refarch.inventory import Inventory, Resource

MEMORY_LINE = "SESSION_BACKEND=memory\n"


def _with_memory_sessions(script: str) -> str:
    """The boot script with the in-process session backend added to the service's environment."""
    marker = "SESSION_TTL_SECONDS="
    assert marker in script, "the boot script no longer writes SESSION_TTL_SECONDS"
    return script.replace(marker, MEMORY_LINE + marker, 1)


# --- AWS: the synthesized CloudFormation template ---------------------------------------------------------


def _aws(template: dict, type_: str) -> list[dict]:
    found = [r.setdefault("Properties", {}) for r in template["Resources"].values() if r["Type"] == type_]
    assert found, f"no {type_} in the template"
    return found


def _attribute(props: dict, key: str, name: str, value: str) -> None:
    attributes = [a for a in props.setdefault(key, []) if a["Key"] != name]
    props[key] = [*attributes, {"Key": name, "Value": value}]


def _launch_data(template: dict) -> dict:
    return _aws(template, "AWS::EC2::LaunchTemplate")[0]["LaunchTemplateData"]


def _aws_memory_sessions(template: dict) -> None:
    parts = _launch_data(template)["UserData"]["Fn::Base64"]["Fn::Join"][1]
    index = next(
        i for i, part in enumerate(parts) if isinstance(part, str) and "SESSION_TTL_SECONDS=" in part
    )
    parts[index] = _with_memory_sessions(parts[index])


AWS: dict[str, Callable[[dict], None]] = {
    "Stateless-NoAffinity": lambda t: _attribute(
        _aws(t, "AWS::ElasticLoadBalancingV2::TargetGroup")[0],
        "TargetGroupAttributes",
        "stickiness.enabled",
        "true",
    ),
    "Stateless-DisposableInstances": lambda t: _launch_data(t)["BlockDeviceMappings"].append(
        {"DeviceName": "/dev/xvdb", "Ebs": {"DeleteOnTermination": False, "VolumeSize": 100}}
    ),
    "Stateless-NoFixedIdentity": lambda t: _launch_data(t)["NetworkInterfaces"][0].update(
        AssociatePublicIpAddress=True
    ),
    "Stateless-LoadBalancerHealth": lambda t: _aws(t, "AWS::AutoScaling::AutoScalingGroup")[0].update(
        HealthCheckType="EC2"
    ),
    "Stateless-ReplaceAtFullCapacity": lambda t: _aws(t, "AWS::AutoScaling::AutoScalingGroup")[0][
        "InstanceMaintenancePolicy"
    ].update(MinHealthyPercentage=90),
    "Stateless-DrainBeforeStop": lambda t: _attribute(
        _aws(t, "AWS::ElasticLoadBalancingV2::TargetGroup")[0],
        "TargetGroupAttributes",
        "deregistration_delay.timeout_seconds",
        "5",
    ),
    "Stateless-ExternalSessions": _aws_memory_sessions,
    "Stateless-DurableStateStores": lambda t: _aws(t, "AWS::DynamoDB::Table")[0].update(
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    ),
    "Stateless-ZoneSpread": lambda t: _aws(t, "AWS::AutoScaling::AutoScalingGroup")[0].update(
        VPCZoneIdentifier=_aws(t, "AWS::AutoScaling::AutoScalingGroup")[0]["VPCZoneIdentifier"][:1]
    ),
    "Stateless-IdenticalInstances": lambda t: _launch_data(t).update(
        ImageId="resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    ),
    "Stateless-ScalingOwnsCount": lambda t: _aws(t, "AWS::AutoScaling::AutoScalingGroup")[0].update(
        DesiredCapacity="3"
    ),
    "Stateless-FleetOnlyCache": lambda t: _aws(t, "AWS::ElastiCache::ReplicationGroup")[0].update(
        TransitEncryptionEnabled=False
    ),
}


# --- Azure and GCP: the recorded inventory ----------------------------------------------------------------


def _one(inventory: Inventory, type_: str) -> dict[str, Any]:
    return inventory.of_type(type_)[0].inputs  # of_type raises when there is none


def _vmss(inventory: Inventory) -> dict[str, Any]:
    return _one(inventory, "azure-native:compute:VirtualMachineScaleSet")


def _azure_memory_sessions(inventory: Inventory) -> None:
    profile = _vmss(inventory)["virtualMachineProfile"]["osProfile"]
    script = base64.b64decode(profile["customData"]).decode()
    profile["customData"] = base64.b64encode(_with_memory_sessions(script).encode()).decode()


def _without_ignore_changes(resource_type: str):
    """A fleet whose size a deployment would reset: the count it was created with is no longer ignored."""

    def mutate(inventory: Inventory) -> None:
        index, fleet = next((i, r) for i, r in enumerate(inventory.resources) if r.type == resource_type)
        inventory.resources[index] = dataclasses.replace(fleet, options={})

    return mutate


def _ip_configuration(inventory: Inventory) -> dict[str, Any]:
    nic = _vmss(inventory)["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    return nic["ipConfigurations"][0]


AZURE: dict[str, Callable[[Inventory], None]] = {
    "Stateless-NoAffinity": lambda i: _one(i, "azure-native:network:ApplicationGateway")[
        "backendHttpSettingsCollection"
    ][0].update(cookieBasedAffinity="Enabled"),
    "Stateless-DisposableInstances": lambda i: _vmss(i)["virtualMachineProfile"]["storageProfile"].update(
        dataDisks=[{"lun": 0, "createOption": "Empty", "diskSizeGB": 64, "deleteOption": "Detach"}]
    ),
    "Stateless-NoFixedIdentity": lambda i: _ip_configuration(i).update(
        publicIPAddressConfiguration={"name": "public"}
    ),
    "Stateless-LoadBalancerHealth": lambda i: _vmss(i)["automaticRepairsPolicy"].update(enabled=False),
    "Stateless-ReplaceAtFullCapacity": lambda i: _vmss(i)["upgradePolicy"]["rollingUpgradePolicy"].update(
        maxSurge=False
    ),
    "Stateless-DrainBeforeStop": lambda i: _one(i, "azure-native:network:ApplicationGateway")[
        "backendHttpSettingsCollection"
    ][0]["connectionDraining"].update(drainTimeoutInSec=5),
    "Stateless-ExternalSessions": _azure_memory_sessions,
    "Stateless-DurableStateStores": lambda i: _one(i, "azure-native:cosmosdb:DatabaseAccount").update(
        backupPolicy={"type": "Periodic"}
    ),
    "Stateless-ZoneSpread": lambda i: _vmss(i).update(zones=["1"]),
    "Stateless-IdenticalInstances": lambda i: _vmss(i)["virtualMachineProfile"]["storageProfile"].update(
        imageReference={
            "communityGalleryImageId": "/CommunityGalleries/debian/Images/debian-12/Versions/latest"
        }
    ),
    "Stateless-ScalingOwnsCount": _without_ignore_changes("azure-native:compute:VirtualMachineScaleSet"),
    "Stateless-FleetOnlyCache": lambda i: _one(i, "azure-native:redisenterprise:Database").update(
        clientProtocol="Plaintext"
    ),
}


def _template(inventory: Inventory) -> dict[str, Any]:
    return _one(inventory, "gcp:compute/instanceTemplate:InstanceTemplate")


def _group(inventory: Inventory) -> dict[str, Any]:
    return _one(inventory, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")


def _gcp_memory_sessions(inventory: Inventory) -> None:
    metadata = _template(inventory)["metadata"]
    metadata["startup-script"] = _with_memory_sessions(metadata["startup-script"])


GCP: dict[str, Callable[[Inventory], None]] = {
    "Stateless-NoAffinity": lambda i: _one(i, "gcp:compute/backendService:BackendService").update(
        sessionAffinity="CLIENT_IP"
    ),
    "Stateless-DisposableInstances": lambda i: _template(i)["disks"][0].update(autoDelete=False),
    "Stateless-NoFixedIdentity": lambda i: _template(i)["networkInterfaces"][0].update(accessConfigs=[{}]),
    "Stateless-LoadBalancerHealth": lambda i: _one(i, "gcp:compute/healthCheck:HealthCheck")[
        "httpHealthCheck"
    ].update(requestPath="/ready"),
    "Stateless-ReplaceAtFullCapacity": lambda i: _group(i)["updatePolicy"].update(maxUnavailableFixed=1),
    "Stateless-DrainBeforeStop": lambda i: _one(i, "gcp:compute/backendService:BackendService").update(
        connectionDrainingTimeoutSec=5
    ),
    "Stateless-ExternalSessions": _gcp_memory_sessions,
    "Stateless-DurableStateStores": lambda i: _one(i, "gcp:firestore/database:Database").update(
        pointInTimeRecoveryEnablement="POINT_IN_TIME_RECOVERY_DISABLED"
    ),
    "Stateless-ZoneSpread": lambda i: _group(i).update(
        distributionPolicyZones=_group(i)["distributionPolicyZones"][:1]
    ),
    "Stateless-IdenticalInstances": lambda i: _template(i)["disks"][0].update(
        sourceImage="projects/debian-cloud/global/images/family/debian-12"
    ),
    "Stateless-ScalingOwnsCount": _without_ignore_changes(
        "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
    ),
    "Stateless-FleetOnlyCache": lambda i: _one(i, "gcp:redis/instance:Instance").update(
        transitEncryptionMode="DISABLED"
    ),
}

MUTATIONS = {"aws": AWS, "azure": AZURE, "gcp": GCP}


def mutated(cloud: str, rule_id: str, model: Any) -> Any:
    """A deep copy of `model` with the rule's mutation applied; the original stays as it was."""
    broken = copy.deepcopy(model)
    MUTATIONS[cloud][rule_id](broken)
    return broken


__all__ = ["MUTATIONS", "Resource", "mutated"]


# --- more ways a fork breaks a rule: each must be caught by the rule named ---------------------------------


def _fleet_security_group(template: dict) -> str:
    interface = _launch_data(template)["NetworkInterfaces"][0]
    return interface["Groups"][0]["Fn::GetAtt"][0]


def _aws_ssh_ingress(template: dict) -> None:
    template["Resources"]["MutationSsh"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": [_fleet_security_group(template), "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "CidrIp": "10.0.0.0/8",
        },
    }


def _aws_other_client_on_cache(template: dict) -> None:
    cache = _aws(template, "AWS::ElastiCache::ReplicationGroup")[0]
    template["Resources"]["MutationCacheIngress"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": cache["SecurityGroupIds"][0],
            "IpProtocol": "tcp",
            "FromPort": 6379,
            "ToPort": 6379,
            "CidrIp": "10.0.0.0/16",
        },
    }


def _azure_ssh_on_fleet_subnet(inventory: Inventory) -> None:
    config = _ip_configuration(inventory)
    subnet = config["subnet"]["id"].rsplit("/", 1)[-1]
    vnet = _one(inventory, "azure-native:network:VirtualNetwork")
    nsg_id = next(s for s in vnet["subnets"] if s["name"] == subnet)["networkSecurityGroup"]["id"]
    nsg = next(
        r for r in inventory if r.type.endswith("NetworkSecurityGroup") and nsg_id.endswith(f"/{r.name}")
    )
    nsg.inputs["securityRules"].append(
        {
            "name": "ssh",
            "access": "Allow",
            "direction": "Inbound",
            "priority": 200,
            "protocol": "Tcp",
            "sourceAddressPrefix": "10.0.0.0/8",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "22",
        }
    )


def _gcp_ssh_firewall(inventory: Inventory) -> None:
    account = _template(inventory)["serviceAccount"]["email"]
    inventory.resources.append(
        Resource(
            "gcp:compute/firewall:Firewall",
            "mutation-ssh",
            "network",
            {
                "direction": "INGRESS",
                "allows": [{"protocol": "tcp", "ports": ["22"]}],
                "sourceRanges": ["35.235.240.0/20"],
                "targetServiceAccounts": [account],
            },
        )
    )


def _gcp_other_client_on_cache(inventory: Inventory) -> None:
    cache_range = _one(inventory, "gcp:redis/instance:Instance")["reservedIpRange"]
    inventory.resources.append(
        Resource(
            "gcp:compute/firewall:Firewall",
            "mutation-to-cache",
            "network",
            {
                "direction": "EGRESS",
                "allows": [{"protocol": "tcp", "ports": ["6378"]}],
                "destinationRanges": [cache_range],
                "targetServiceAccounts": ["other@example.iam.gserviceaccount.com"],
            },
        )
    )


MORE: list[tuple[str, str, str, Callable[[Any], None]]] = [
    ("aws", "Stateless-NoFixedIdentity", "an SSH ingress on the fleet", _aws_ssh_ingress),
    ("aws", "Stateless-NoFixedIdentity", "a key pair", lambda t: _launch_data(t).update(KeyName="admin")),
    (
        "aws",
        "Stateless-NoFixedIdentity",
        "an elastic IP on an instance",
        lambda t: t["Resources"].update(
            MutationEip={
                "Type": "AWS::EC2::EIP",
                "Properties": {"Domain": "vpc", "InstanceId": "i-0123456789"},
            }
        ),
    ),
    (
        "aws",
        "Stateless-DisposableInstances",
        "an EFS mount target",
        lambda t: t["Resources"].update(
            MutationMount={
                "Type": "AWS::EFS::MountTarget",
                "Properties": {"FileSystemId": "fs-1", "SubnetId": "s"},
            }
        ),
    ),
    ("aws", "Stateless-FleetOnlyCache", "another client on the cache", _aws_other_client_on_cache),
    ("azure", "Stateless-NoFixedIdentity", "SSH admitted to the fleet's subnet", _azure_ssh_on_fleet_subnet),
    (
        "azure",
        "Stateless-DisposableInstances",
        "an Azure Files share",
        lambda i: i.resources.append(Resource("azure-native:storage:FileShare", "mutation-share", None, {})),
    ),
    ("gcp", "Stateless-NoFixedIdentity", "SSH admitted to the fleet", _gcp_ssh_firewall),
    (
        "gcp",
        "Stateless-NoFixedIdentity",
        "ssh-keys in metadata",
        lambda i: _template(i)["metadata"].update({"ssh-keys": "admin:ssh-rsa AAAA"}),
    ),
    ("gcp", "Stateless-FleetOnlyCache", "another client allowed to the cache", _gcp_other_client_on_cache),
    (
        "gcp",
        "Stateless-DisposableInstances",
        "a Filestore share",
        lambda i: i.resources.append(Resource("gcp:filestore/instance:Instance", "mutation-share", None, {})),
    ),
]


def mutated_by(cloud: str, mutation: Callable[[Any], None], model: Any) -> Any:
    broken = copy.deepcopy(model)
    mutation(broken)
    return broken
