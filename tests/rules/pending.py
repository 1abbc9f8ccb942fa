"""PENDING STATELESSNESS GAPS: rules that fail on today's unmodified stacks, waiting for a stack change.

The rules are not weakened for them; the tests expect exactly these to fail (and fail when one is fixed,
so it leaves this list). Each entry: (cloud, environment, rule id) -> the evidence and what would fix it.
"""

AZURE_SSH_KEY = (
    "The scale set carries an SSH public key (osProfile.linuxConfiguration.ssh.publicKeys, "
    "pulumi/azure/azure_stack/fleet.py UNUSABLE_SSH_KEY): Azure requires a key or a password for a Linux "
    "VM; the private half was discarded, sshd is off and no NSG admits port 22, but the rule cannot tell an "
    "unusable key from a usable one. Fix in the stack (e.g. a key generated per deployment and never "
    "stored), or accept it with a reason once the policy pack's acceptance list exists."
)

PENDING: dict[tuple[str, str, str], str] = {
    ("azure", environment, "Stateless-NoFixedIdentity"): AZURE_SSH_KEY
    for environment in ("dev", "staging", "prod")
}
