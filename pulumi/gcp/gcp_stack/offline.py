"""What Google Cloud would compute, for running the program offline (refarch_pulumi.offline)."""

from __future__ import annotations

import zlib
from typing import Any

import pulumi

from refarch_pulumi.offline import CloudMocks

# The SDK modules the program imports; `make bench` times importing exactly these.
SDK_MODULES = (
    "pulumi",
    "pulumi_gcp.apigateway",
    "pulumi_gcp.compute",
    "pulumi_gcp.dns",
    "pulumi_gcp.firestore",
    "pulumi_gcp.logging",
    "pulumi_gcp.monitoring",
    "pulumi_gcp.projects",
    "pulumi_gcp.redis",
    "pulumi_gcp.secretmanager",
    "pulumi_gcp.serviceaccount",
    "pulumi_gcp.storage",
)

MOCK_CACHE_HOST = "10.0.255.244"
MOCK_AUTH_STRING = "mock-auth-string"
MOCK_IMAGE = (
    "https://www.googleapis.com/compute/v1/projects/debian-cloud/global/images/debian-12-bookworm-v20261110"
)
MOCK_CA = "-----BEGIN CERTIFICATE-----\nMIIBmockMemorystoreServerCA\n-----END CERTIFICATE-----"


def unique_id(account_id: str) -> str:
    """A service account's numeric unique ID, made up but stable (tests recompute it)."""
    return str(100000000000000000000 + sum(map(ord, account_id)))


def auto_name(logical_name: str, type_: str) -> str:
    """The name an auto-named resource gets: a suffix the way Pulumi adds one, but a stable one."""
    return f"{logical_name}-{zlib.crc32(type_.encode()) % 10000:04d}"


def _project() -> str:
    return pulumi.Config("gcp").get("project") or "mock-project"


class Mocks(CloudMocks):
    def resource_id(self, args: pulumi.runtime.MockResourceArgs) -> str:
        # A resource read with `.get()` keeps the ID it was read by.
        return args.resource_id or super().resource_id(args)

    def computed(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        project, inputs = _project(), args.inputs
        # A read (`.get()`) brings no inputs: a Firestore database's name is its ID's last segment.
        name = inputs.get("name") or (
            args.resource_id.rsplit("/", 1)[-1] if args.resource_id else auto_name(args.name, args.typ)
        )
        outputs: dict[str, Any] = {
            "name": name,
            "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{args.name}",
        }
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            outputs |= {
                "email": email,
                "member": f"serviceAccount:{email}",
                "name": f"projects/{project}/serviceAccounts/{email}",
                "uniqueId": unique_id(inputs["accountId"]),
            }
        elif args.typ == "gcp:projects/iAMCustomRole:IAMCustomRole":
            # The provider's `name`: projects/{{project}}/roles/{{role_id}} (what a binding's `role` takes).
            outputs["name"] = f"projects/{inputs.get('project', project)}/roles/{inputs['roleId']}"
        elif args.typ == "gcp:redis/instance:Instance":
            outputs |= {
                "host": MOCK_CACHE_HOST,
                "authString": MOCK_AUTH_STRING,
                "serverCaCerts": [{"cert": MOCK_CA}],
            }
        elif args.typ == "gcp:secretmanager/secret:Secret":
            outputs["name"] = f"projects/{project}/secrets/{inputs['secretId']}"
        elif args.typ == "gcp:apigateway/api:Api":
            outputs["managedService"] = f"{inputs['apiId']}-0a1b2c3d4e5f6.apigateway.{project}.cloud.goog"
        elif args.typ == "gcp:apigateway/gateway:Gateway":
            outputs["defaultHostname"] = f"{inputs['gatewayId']}-a1b2c3d4.ew.gateway.dev"
        elif args.typ == "gcp:compute/globalAddress:GlobalAddress":
            outputs["address"] = "203.0.113.10"
        elif args.typ == "gcp:compute/instanceTemplate:InstanceTemplate":
            outputs["selfLinkUnique"] = f"{outputs['selfLink']}?uniqueId=1234"
        elif args.typ == "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
            outputs["instanceGroup"] = f"projects/{project}/regions/{inputs['region']}/instanceGroups/{name}"
        elif args.typ == "gcp:monitoring/notificationChannel:NotificationChannel":
            outputs["name"] = f"projects/{project}/notificationChannels/1234567890"
        elif args.typ == "gcp:logging/projectBucketConfig:ProjectBucketConfig":
            outputs["name"] = (
                f"projects/{project}/locations/{inputs['location']}/buckets/{inputs['bucketId']}"
            )
        elif args.typ == "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig":
            outputs["uptimeCheckId"] = f"{args.name}-check"
        return outputs

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        if token == "gcp:compute/getImage:getImage":
            return {
                "selfLink": MOCK_IMAGE,
                "name": MOCK_IMAGE.rsplit("/", 1)[1],
                "family": args.get("family"),
            }
        return super().invoke(token, args)
