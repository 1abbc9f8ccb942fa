"""The fleet's item role: a custom role with the permissions of the service's own Firestore document calls
only, its id valid and distinct for every environment name the spec allows. (The store alert while a clone
is served is guarded in test_gcp_restored_store.py.)"""

from __future__ import annotations

import ast
import re

from test_gcp_restored_store import NS, SETTINGS, _grants, _preview

from refarch import ROOT
from refarch.spec import ENVIRONMENT_NAME

ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
# The permission each document call needs ("Required permissions for API methods",
# https://cloud.google.com/firestore/docs/security/iam): get is a BatchGetDocuments (datastore.entities.get);
# set is a commit of an update without a precondition (datastore.entities.create and
# datastore.entities.update).
# Names as listed under "Firestore roles" (docs.cloud.google.com/iam/docs/roles-permissions/firestore).
PERMISSIONS_OF_CALL = {
    "get": {"datastore.entities.get"},
    "set": {"datastore.entities.create", "datastore.entities.update"},
}
# A custom role's ID: letters, digits, `_` and `.`, at most 64 (REST projects.roles.create, roleId).
ROLE_ID = re.compile(r"^[a-zA-Z0-9_.]{3,64}$")


def _document_calls() -> set[str]:
    """The methods the service calls on a document (`<collection>.document(id).<method>(...)`)."""
    tree = ast.parse((ROOT / "sample_service" / "stores" / "firestore.py").read_text())
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Attribute)
        and node.func.value.func.attr == "document"
    }


def test_the_fleets_item_role_allows_only_what_the_service_calls(gcp, inventories):
    calls = _document_calls()
    assert calls and calls <= PERMISSIONS_OF_CALL.keys(), f"a document call without its permissions: {calls}"
    allowed = set().union(*(PERMISSIONS_OF_CALL[call] for call in calls))
    checked = 0
    for environment, inventory in {**inventories, "served+draining": _served_and_draining(gcp)}.items():
        role = inventory.only(ROLE)
        assert set(role.get("permissions")) == allowed, environment
        project = role.get("project")
        for grant in _grants(inventory).values():
            # Project-scoped: the role is the grant's project's own, by the ID the stack gave it.
            assert grant.get("role") == f"projects/{project}/roles/{role.get('roleId')}", grant.name
            checked += 1
    # The own database's grant in each environment, plus the served and the draining clone's.
    assert checked == len(inventories) + 3


def _served_and_draining(gcp):
    return _preview(gcp, **{f"{NS}:{k}": v for k, v in SETTINGS["served+draining"].items()})[0]


def test_the_role_id_is_valid_and_distinct_for_every_environment_name(gcp):
    role_id = gcp.module("item_store").fleet_role_id
    # The longest names the spec allows, and two that differ only where `-` becomes `_`.
    longest = "a" + "-" * 15
    assert ENVIRONMENT_NAME.match(longest)
    for name in (longest, "dev", "prod-eu", "staging"):
        assert ROLE_ID.match(role_id(name)), name
    assert len({role_id(n) for n in ("prod-eu", "prodeu", "prod-e-u")}) == 3
