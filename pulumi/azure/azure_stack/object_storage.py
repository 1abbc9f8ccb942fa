"""Object storage tier: the service's files, and the releases the instances install.

Files: no shared keys, no public network access, reached through a private endpoint, and no identity
granted a data role until the service uses it. Releases hold code, not data, in a second account,
because the provider uploads a blob with the account key (pulumi-azure-native#2015): shared keys stay on
there, but its firewall admits only the deployers' addresses and the instances' subnet, and the
instances read with their identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.storage as storage

from azure_stack import roles
from azure_stack.diagnostics import send_diagnostics
from azure_stack.placement import Placement
from azure_stack.private_endpoints import private_endpoint
from azure_stack.tier import Tier
from refarch.bundle import Bundle
from refarch_pulumi.release import bundle_archive

FILES_CONTAINER = "files"
RELEASES_CONTAINER = "releases"


@dataclass(frozen=True, kw_only=True)
class ObjectStorageArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    reader_principal_id: pulumi.Input[str]
    data_subnet_id: pulumi.Input[str]
    app_subnet_id: pulumi.Input[str]
    blob_dns_zone_id: pulumi.Input[str]
    # The self-contained release (service, wheelhouse, lock) for the VM size's platform.
    bundle: Bundle
    # How long deleted blobs and containers are kept (the spec's `retention.access_log_days`).
    retention_days: int
    # Production's accounts are zone-redundant.
    production: bool
    # Who uploads releases (`refarch-azure:deployerIpRanges`): the only addresses the releases account admits.
    deployer_ip_ranges: list[str]


class ObjectStorage(Tier):
    def __init__(
        self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ObjectStorage", name, opts)
        placement = args.placement
        child = self.child()
        retention = args.retention_days

        self.files = self._account(
            "files",
            placement,
            args.production,
            allow_shared_key_access=False,
            public_network_access="Disabled",
            network_rule_set={"default_action": "Deny", "bypass": "None"},
        )
        self._blob_service("files", self.files, placement, retention)
        # Kept for the service's files, but nobody is granted it yet: the service makes no blob calls, so
        # the fleet gets a data role on it (Storage Blob Data Contributor, this container only) once it does.
        self._container("files", self.files, FILES_CONTAINER, placement)
        private_endpoint(
            "files",
            placement=placement,
            resource_id=self.files.id,
            group_id="blob",
            subnet_id=args.data_subnet_id,
            dns_zone_id=args.blob_dns_zone_id,
            parent=self,
        )

        self.releases = self._account(
            "releases",
            placement,
            args.production,
            allow_shared_key_access=True,
            public_network_access="Enabled",
            network_rule_set={
                "default_action": "Deny",
                "bypass": "None",
                "ip_rules": [
                    {"i_p_address_or_range": cidr, "action": "Allow"} for cidr in args.deployer_ip_ranges
                ],
                "virtual_network_rules": [
                    {"virtual_network_resource_id": args.app_subnet_id, "action": "Allow"}
                ],
            },
        )
        self._blob_service("releases", self.releases, placement, retention)
        releases_container = self._container("releases", self.releases, RELEASES_CONTAINER, placement)
        self.release = args.bundle.id
        blob_name = f"sample-service/{self.release}.zip"
        self.bundle = storage.Blob(
            "service-bundle",
            resource_group_name=placement.resource_group_name,
            account_name=self.releases.name,
            container_name=releases_container.name,
            blob_name=blob_name,
            type="Block",
            content_type="application/zip",
            source=bundle_archive(args.bundle),
            opts=child,
        )
        self.bundle_url = pulumi.Output.concat(
            self.releases.primary_endpoints.blob, RELEASES_CONTAINER, "/", blob_name
        )

        container_scope = "/blobServices/default/containers/"
        roles.grant(
            "fleet-reads-releases",
            role=roles.STORAGE_BLOB_DATA_READER,
            principal_id=args.reader_principal_id,
            scope=pulumi.Output.concat(self.releases.id, container_scope, releases_container.name),
            subscription_id=placement.subscription_id,
            parent=self,
        )
        for label, account in (("files", self.files), ("releases", self.releases)):
            send_diagnostics(
                f"{label}-blobs",
                resource_id=pulumi.Output.concat(account.id, "/blobServices/default"),
                workspace_id=args.workspace_id,
                parent=self,
                # A blob service exports its metrics as Transaction; there is no AllMetrics category here.
                metrics="Transaction",
            )
        self.register_outputs({"filesAccountId": self.files.id, "bundleUrl": self.bundle_url})

    def _account(
        self, label: str, placement: Placement, production: bool, **access
    ) -> storage.StorageAccount:
        return storage.StorageAccount(
            label,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            kind="StorageV2",
            # Zone-redundant where the environment spans zones; locally redundant otherwise.
            sku={"name": "Standard_ZRS" if production else "Standard_LRS"},
            access_tier="Hot",
            allow_blob_public_access=False,
            allow_cross_tenant_replication=False,
            default_to_o_auth_authentication=True,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            encryption={
                "key_source": "Microsoft.Storage",
                "require_infrastructure_encryption": True,
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags=placement.tags,
            opts=self.child(),
            **access,
        )

    def _blob_service(
        self, label: str, account: storage.StorageAccount, placement: Placement, days: int
    ) -> None:
        storage.BlobServiceProperties(
            f"{label}-blob-service",
            resource_group_name=placement.resource_group_name,
            account_name=account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": min(days, 365)},
            container_delete_retention_policy={"enabled": True, "days": min(days, 365)},
            opts=self.child(),
        )

    def _container(
        self, label: str, account: storage.StorageAccount, name: str, placement: Placement
    ) -> storage.BlobContainer:
        return storage.BlobContainer(
            f"{label}-container",
            resource_group_name=placement.resource_group_name,
            account_name=account.name,
            container_name=name,
            public_access="None",
            opts=self.child(),
        )
