"""PENDING STATELESSNESS GAPS: rules that fail on today's unmodified stacks, waiting for a stack change.

The rules are not weakened for them; the tests expect exactly these to fail (and fail when one is fixed,
so it leaves this list). Each entry: (cloud, environment, rule id) -> the evidence and what would fix it.
"""

ENVIRONMENTS = ("dev", "staging", "prod")

AZURE_SSH_KEY = (
    "The scale set carries an SSH public key (osProfile.linuxConfiguration.ssh.publicKeys, "
    "pulumi/azure/azure_stack/fleet.py UNUSABLE_SSH_KEY): Azure requires a key or a password for a Linux "
    "VM; the private half was discarded, sshd is off and no NSG admits port 22, but the rule cannot tell an "
    "unusable key from a usable one. Fix in the stack (a key generated per deployment and never stored), or "
    "accept it with a reason (the policy's `accepted` config) once the lead decides it is acceptable."
)

AZURE_LATEST_IMAGE = (
    "The scale set's image is Debian 12 `latest` (storageProfile.imageReference.version, "
    "pulumi/azure/azure_stack/fleet.py IMAGE), resolved when each instance is created, so one fleet can mix "
    "image builds (the README's Azure known limits say so). Fix: resolve a specific version at deployment, "
    "as the GCP stack does with its image family."
)

PENDING: dict[tuple[str, str, str], str] = {
    **{(("azure", env, "Stateless-NoFixedIdentity")): AZURE_SSH_KEY for env in ENVIRONMENTS},
    **{(("azure", env, "Stateless-IdenticalInstances")): AZURE_LATEST_IMAGE for env in ENVIRONMENTS},
}
