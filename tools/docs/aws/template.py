"""Small, strict queries over a synthesized CloudFormation template: a missing resource or property is an
error naming it, never a silent default (a document must not state a value the stack does not have)."""

from __future__ import annotations

from typing import Any


class TemplateError(ValueError):
    pass


class Template:
    def __init__(self, environment: str, template: dict[str, Any]) -> None:
        self.environment = environment
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.outputs: dict[str, dict[str, Any]] = template.get("Outputs", {})

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: body for name, body in self.resources.items() if body["Type"] == type_}

    def only(self, type_: str) -> tuple[str, dict[str, Any]]:
        """(logical id, properties) of the one resource of `type_`."""
        found = self.of_type(type_)
        if len(found) != 1:
            raise TemplateError(f"aws {self.environment}: expected one {type_}, found {sorted(found)}")
        name, body = next(iter(found.items()))
        return name, body.get("Properties", {})

    def prop(self, type_: str, path: str) -> Any:
        """A property of the one resource of `type_`, by a dotted path "
        "(`Preferences.MinHealthyPercentage`)."""
        name, value = self.only(type_)
        return self._walk(name, value, path)

    def attribute(self, type_: str, path: str) -> Any:
        """A resource attribute outside Properties (UpdatePolicy, DeletionPolicy), by a dotted path."""
        name, _ = self.only(type_)
        return self._walk(name, self.resources[name], path)

    def _walk(self, name: str, value: Any, path: str) -> Any:
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                raise TemplateError(f"aws {self.environment}: {name} has no {path}")
            value = value[part]
        return value

    def type_of(self, logical_id: str) -> str:
        return self.resources[logical_id]["Type"]


def ref_id(value: Any) -> str | None:
    """The logical id a {"Ref": ...} or {"Fn::GetAtt": [...]} points at (None for anything else)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def references(value: Any) -> set[str]:
    """Every logical id referenced anywhere inside `value` (Ref, Fn::GetAtt, ${Name} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        target = ref_id(value)
        if target and not target.startswith("AWS::"):
            found.add(target)
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found
