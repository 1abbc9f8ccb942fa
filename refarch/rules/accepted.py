"""The catalogue of statelessness findings accepted on the Pulumi clouds (Azure, GCP), each with its reason.

AWS accepts findings through cdk-nag's acknowledgments (stacks/acknowledgments.py); the Pulumi clouds have
no such channel, so the offline evaluation (`make synth`) and the policy pack both read this catalogue.
An acceptance names one finding exactly: the cloud, the rule, the resource, the property and the value the
rule reported. Any other value of that property, or any other finding on the resource, is still a
violation. An accepted finding is reported as accepted with its reason, never as a pass.
tests/rules/test_accepted.py proves each entry is raised without it and suppresses exactly that finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from refarch.rules import azure
from refarch.rules.results import Check


@dataclass(frozen=True)
class Acceptance:
    cloud: str
    rule: str
    # The resource's name in the stack, and its type (a component can share the name).
    resource: str
    type: str
    property: str
    value: Any
    reason: str
    # For a known limit: what would fix it, so the finding stays a to-do, not a decision.
    remediation: str | None = None

    def covers(self, cloud: str, rule: str, check: Check) -> bool:
        return (
            (cloud, rule) == (self.cloud, self.rule)
            and check.resource.split("/")[0] == self.resource
            and check.type == self.type
            and check.property == self.property
            and check.value == self.value
        )

    def to_json(self) -> dict[str, Any]:
        data = {"reason": self.reason}
        return data if self.remediation is None else {**data, "remediation": self.remediation}


ACCEPTANCES: tuple[Acceptance, ...] = (
    Acceptance(
        cloud="azure",
        rule="Stateless-NoFixedIdentity",
        resource="fleet",
        type=azure.VMSS,
        property="osProfile.linuxConfiguration.ssh.publicKeys",
        value=1,
        reason=(
            "ARM refuses a Linux VM without an SSH public key or a password. The scale set carries one "
            "public key whose private half was discarded when it was generated (UNUSABLE_SSH_KEY in "
            "pulumi/azure/azure_stack/fleet.py), so it opens nothing; password authentication is disabled, "
            "boot.sh disables sshd, and no NSG rule admits port 22 (the same rule still checks every NSG)."
        ),
    ),
    Acceptance(
        cloud="azure",
        rule="Stateless-IdenticalInstances",
        resource="fleet",
        type=azure.VMSS,
        property="storageProfile.imageReference.version",
        value="latest",
        reason=(
            "Known limit: the scale set's Debian 12 marketplace image is `latest`, resolved when each "
            "instance is created, so instances created after a new image release boot a newer build than "
            "the rest of the fleet. azure-native has no invoke that resolves a marketplace image's latest "
            "version at deployment, so the program cannot pin it by itself."
        ),
        remediation=(
            "Pin a specific image version in IMAGE (pulumi/azure/azure_stack/fleet.py), found with `az vm "
            "image list --publisher Debian --offer debian-12 --sku 12-gen2 --all`, and bump it deliberately, "
            "or build the image into an Azure Compute Gallery and reference one image version by id."
        ),
    ),
)


def for_cloud(cloud: str) -> tuple[Acceptance, ...]:
    return tuple(acceptance for acceptance in ACCEPTANCES if acceptance.cloud == cloud)
