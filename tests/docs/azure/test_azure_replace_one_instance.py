"""Azure `replace-one-instance` as text a reader on call follows: each check reads a generated runbook's
markdown (`problems(text)` lists every failure), so each fails on the text a reader trial stumbled on
(briefs/s18/reports/reader-azure.md) and passes on the fixed one.

Sources:
- Manual scaling outside the autoscale limits is reset: "Best practices for Autoscale", section "Manual
  scaling is reset by autoscale minimum and maximum" (learn.microsoft.com/azure/azure-monitor/autoscale/
  autoscale-best-practices).
- Linked-resource actions: "Azure permissions for Networking" (virtualNetworks/subnets/join/action,
  applicationGateways/backendAddressPools/join/action, networkSecurityGroups/join/action) and "Azure
  permissions for Identity" (userAssignedIdentities/assign/action), learn.microsoft.com/azure/
  role-based-access-control/permissions/.
- Terminate notification: a delete waits for the VM's approval or notBeforeTimeout (5 to 15 min), "Terminate
  notification for Azure Virtual Machine Scale Set instances" (learn.microsoft.com/azure/
  virtual-machine-scale-sets/virtual-machine-scale-sets-terminate-notification).
- `az vmss scale --new-capacity`: the number of VMs the scale set should have (absolute), az vmss reference.
"""

from __future__ import annotations

import json
import re

from refarch.spec import load_all
from tests.docs.azure.azure_fixtures import generated, inventories, mutated
from tests.docs.azure.azure_replace_one import _code, _first, _steps
from tests.docs.runbook_harness import SH_BLOCK, committed
from tests.docs.runbook_harness import section as _section
from tools.docs import azure as azure_docs
from tools.docs import render
from tools.docs.azure import inventory as inv


def problems(text: str, minimum: int, boot_budget: int, notice: int) -> list[str]:
    """Every stumble of the reader trial still in one replace-one-instance runbook's markdown."""
    found = []
    steps, rollback = _steps(text, "Steps"), _steps(text, "Rollback")
    names = _code(_section(text, "Names, looked up from the stack"))
    delete = _first(steps, r'--instance-ids "\$VM"')
    # 1. autoscale cannot add an instance back after the delete: it is paused (the minimum still raised)
    # in the delete's guarded chain (test_azure_replace_one_instance_in_bash.py: lowering the minimum first
    # let autoscale scale in a healthy instance during the delete)
    # (chained with `&&`, or, since round 3, the delete in the `then` of the pause)
    paused_delete = r"--enabled false.*(&&|; then\n)\s*az vmss delete-instances"
    if delete < 0 or not re.search(paused_delete, _code(steps[delete])):
        found.append("1: the delete runs while autoscale may add the instance back")
    paused = _first(rollback, r"--enabled false")
    if not 0 <= paused <= _first(rollback, r'--instance-ids "\$NEW_VM"'):
        found.append("1: the rollback deletes the new instance while autoscale may add it back")
    # 2. a scale-out's linked-resource actions are in the role (escalation named)
    role = json.loads(re.search(r"```json\n(.*?)```", text, re.DOTALL).group(1))
    if "Microsoft.Network/virtualNetworks/subnets/join/action" not in role["Actions"]:
        found.append("2: the role lacks the subnet join a scale-out needs")
    if "LinkedAuthorizationFailed" not in text:
        found.append("2: no stop-if for LinkedAuthorizationFailed")
    # 3. the delete may take the whole terminate notice; do not interrupt
    if delete >= 0 and (
        f"notBeforeTimeout {notice} s" not in steps[delete] or "interrupt" not in steps[delete]
    ):
        found.append("3: the delete's Expected omits the terminate notice timeout")
    # 4. what step 4 read survives a lost shell: a state file written before the change, reloaded
    hold = _first(steps, r'--min-count "\$TARGET"')
    hold_code = _code(steps[hold]) if hold >= 0 else ""
    if not re.search(r'printf .*>"\$STATE(\.tmp)?".*&& az monitor autoscale update', hold_code):
        found.append("4: step 4 does not save its values before raising the minimum")
    if 'test ! -e "$STATE"' not in hold_code or f'test "$MIN" = {minimum}' not in hold_code:
        found.append("4: step 4 runs again over a run in progress or a raised minimum")
    if 'source "$STATE"' not in names or "Lost shell" not in text:
        found.append("4: the Names block does not reload the state file")
    if '>>"$STATE"' not in _code(steps[_first(steps, r"(^|\n)\s*NEW_VM=")]):
        found.append("4: the new instance is not saved to the state file")
    # 5. the absolute capacity is set only when it is below the target
    if not re.search(
        r'elif test "\$CUR" -ge "\$TARGET"; then\n.*\n(else\n\s*|elif ! )az vmss scale',
        _code(steps[_first(steps, "vmss scale")]).replace("\n   ", "\n"),
    ):
        found.append("5: step 5 may set a capacity below the current one")
    # 6. the gateway's view of each address next to the names; unknown health covered
    if "servers[].[address, health]" not in _code(steps[1]) or "list-ip-addresses" not in _code(steps[1]):
        found.append("6: step 2 does not show the gateway's view of each instance")
    if "HealthState/unknown" not in steps[2]:
        found.append("6: step 3 does not say what to do with unknown health")
    # 7. a Failed instance is the one to replace, not a reason to wait
    if "`Failed` on the instance you came to replace: proceed" not in steps[1]:
        found.append("7: step 2 waits forever on the failed instance")
    # 8. a bounded wait loop of the boot budget; an empty answer explained
    wait = _first(steps, r"until test [^\n]*DEADLINE")
    if wait < 0 or f"DEADLINE=$((SECONDS + {boot_budget}))" not in _code(steps[wait]):
        found.append("8: no wait loop bounded by the boot budget")
    elif "nothing after it" not in steps[wait]:
        found.append("8: an empty health answer is not explained")
    # 9. the new instance's zone against the old one's
    named = _code(steps[_first(steps, r"(^|\n)\s*NEW_VM=")])
    if '-n "$NEW_VM" --query "zones[0]"' not in named or '-n "$VM" --query "zones[0]"' not in named:
        found.append("9: the zones of the new and the old instance are not compared")
    # 10. step 1 names Faulted, NotFound and 403
    if not all(word in steps[0] for word in ("`Faulted`", "`NotFound`", "403")):
        found.append("10: step 1 does not cover Faulted, NotFound and 403")
    # 11. the resource group is checked in the subscription az uses; every name echoed
    if 'az group show -n "$RG"' not in names or 'echo "SUBSCRIPTION=$SUBSCRIPTION' not in names:
        found.append("11: the subscription is never checked")
    # 12. no placeholder key exported; the key is typed at a prompt, alone in its block
    if "export API_KEY=" in text:
        found.append("12: a placeholder API key is exported")
    if not any(
        block.strip().startswith("API_KEY=$(read -rsp") and "\n" not in block.strip()
        for block in SH_BLOCK.findall(text)
    ):
        found.append("12: the API key is not read at a prompt in a one-line block")
    return found


def _prod(inventory=None):
    """The prod runbook generated from `inventory` (the stack's own by default), and its markdown."""
    inventory = inventory or inventories()["prod"]
    facts = azure_docs.facts("prod", inventory, load_all()["prod"])
    runbooks = tuple(azure_docs.runbooks(facts))
    runbook = next(r for r in runbooks if r.scenario == "replace-one-instance")
    text = (
        render.environment()
        .get_template("runbook.md.j2")
        .render(runbook=runbook, facts=facts, results=(), runbooks=runbooks, drill=None)
    )
    return facts, runbook, text


def test_every_environment_passes_the_text_checks():
    # The committed runbooks, which the drift test keeps equal to a fresh generation.
    for environment, (facts, _) in generated().items():
        text = committed("azure", environment)
        notice = facts.details["terminate_notice_seconds"]
        found = problems(text, facts.min_size, facts.boot_budget_seconds, notice)
        assert not found, (environment, found)


def test_the_delete_waits_for_the_stacks_terminate_notice():
    inventory = inventories()["prod"]
    notice = inventory.only(inv.SCALE_SET).get(
        "virtualMachineProfile.scheduledEventsProfile.terminateNotificationProfile.notBeforeTimeout"
    )
    assert f"notBeforeTimeout {inv.iso_seconds(notice)} s" in _prod()[2]
    longer = mutated(
        inventory,
        inv.SCALE_SET,
        "virtualMachineProfile.scheduledEventsProfile.terminateNotificationProfile.notBeforeTimeout",
        "PT15M",
    )
    assert "notBeforeTimeout 900 s" in _prod(longer)[2]


def test_the_role_follows_what_the_instance_model_links():
    inventory = inventories()["prod"]
    role = json.loads(_prod()[1].permissions)["Actions"]
    assert "Microsoft.Network/applicationGateways/backendAddressPools/join/action" in role
    assert "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action" in role
    # The stack's NICs carry no NSG of their own (the subnet's guards them): no NSG join asked.
    assert "Microsoft.Network/networkSecurityGroups/join/action" not in role
    nic = "virtualMachineProfile.networkProfile.networkInterfaceConfigurations.0"
    with_nsg = mutated(inventory, inv.SCALE_SET, f"{nic}.networkSecurityGroup", {"id": "/nsg"})
    assert "Microsoft.Network/networkSecurityGroups/join/action" in _prod(with_nsg)[1].permissions
    no_identity = mutated(inventory, inv.SCALE_SET, "identity", {"type": "None"})
    assert "userAssignedIdentities/assign/action" not in _prod(no_identity)[1].permissions
    # Only what scales out needs them: the cache runbook's role has none.
    facts = azure_docs.facts("prod", inventory, load_all()["prod"])
    cache = next(r for r in azure_docs.runbooks(facts) if r.scenario == "cache-primary-failure")
    assert "join/action" not in cache.permissions
