"""AWS CLI v2 commands checked against botocore's service models, offline.

`aws <service> <command> [--option value ...]`: the CLI names each operation and parameter by botocore's
`xform_name` (DescribeTargetHealth -> describe-target-health, TargetGroupArn -> --target-group-arn), so the
model says whether the operation exists, which options it takes, which are required and which values an
enum allows. `aws <service> wait <waiter>` is checked against the service's waiter model the same way.
The AWS CLI v2 bundles its own botocore; the project's botocore (requirements.lock) stands in for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.model import OperationModel, Shape

# AWS CLI v2 global options (`aws help`, "Global Options"), with whether each takes a value.
GLOBAL_OPTIONS = {
    "--debug": False,
    "--endpoint-url": True,
    "--no-verify-ssl": False,
    "--no-paginate": False,
    "--output": True,
    "--query": True,
    "--profile": True,
    "--region": True,
    "--version": False,
    "--color": True,
    "--no-sign-request": False,
    "--ca-bundle": True,
    "--cli-read-timeout": True,
    "--cli-connect-timeout": True,
    "--cli-binary-format": True,
    "--no-cli-pager": False,
    "--cli-auto-prompt": False,
    "--no-cli-auto-prompt": False,
}
GLOBAL_ENUMS = {
    "--output": {"json", "text", "table", "yaml", "yaml-stream"},
    "--color": {"on", "off", "auto"},
}
# Options every operation's command takes (the CLI's input/skeleton arguments), and paginated ones' extras.
COMMAND_OPTIONS = {"--cli-input-json": True, "--cli-input-yaml": True, "--generate-cli-skeleton": True}
PAGINATION_OPTIONS = {"--starting-token": True, "--page-size": True, "--max-items": True}
# CLI service names that differ from botocore's.
CLI_SERVICES = {"s3api": "s3", "configservice": "config"}


@dataclass(frozen=True)
class Invocation:
    """A parsed `aws` command: the botocore service and operation it calls, and its options."""

    service: str
    operation: str
    options: dict[str, list[str]]
    waiter: str | None = None


@cache
def session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _operations(service: str) -> dict[str, str]:
    """CLI command name -> operation name."""
    model = session().get_service_model(service)
    return {xform_name(name, "-"): name for name in model.operation_names}


@cache
def _waiters(service: str) -> dict[str, str]:
    try:
        model = session().get_waiter_model(service)
    except DataNotFoundError:
        return {}
    return {xform_name(name, "-"): name for name in model.waiter_names}


def _paginated(service: str, operation: str) -> bool:
    try:
        return session().get_paginator_model(service).get_paginator(operation) is not None
    except (DataNotFoundError, ValueError):
        return False


def _split_options(tokens: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """--option value... pairs (an option takes every value up to the next option), and stray words."""
    options: dict[str, list[str]] = {}
    stray: list[str] = []
    current: str | None = None
    for token in tokens:
        if token.startswith("--"):
            current = token
            options.setdefault(current, [])
        elif current is None:
            stray.append(token)
        else:
            options[current].append(token)
    return options, stray


def parse(argv: list[str]) -> tuple[Invocation | None, list[str]]:
    """The invocation `argv` makes, or None with the problems that stop it from being one."""
    if len(argv) < 3 or argv[0] != "aws":
        return None, [f"expected `aws <service> <command> ...`, got {argv[:3]}"]
    cli_service, command, rest = argv[1], argv[2], argv[3:]
    service = CLI_SERVICES.get(cli_service, cli_service)
    try:
        operations = _operations(service)
    except UnknownServiceError:
        return None, [f"no AWS service `{cli_service}` in botocore's models"]
    waiter = None
    if command == "wait":
        if not rest:
            return None, ["`wait` names no waiter"]
        waiter_cli, rest = rest[0], rest[1:]
        waiters = _waiters(service)
        if waiter_cli not in waiters:
            return None, [f"no waiter `{waiter_cli}` for {cli_service}; it has {sorted(waiters)}"]
        waiter = waiters[waiter_cli]
        operation = session().get_waiter_model(service).get_waiter(waiter).operation
    elif command in operations:
        operation = operations[command]
    else:
        return None, [f"no operation `{cli_service} {command}` in botocore's {service} model"]
    options, stray = _split_options(rest)
    problems = [f"unexpected argument {word!r}" for word in stray]
    return Invocation(service, operation, options, waiter), problems


def _check_value(name: str, shape: Shape, values: list[str]) -> list[str]:
    problems = []
    if shape.type_name == "boolean":
        if values:
            problems.append(f"{name} is a flag (use {name} or --no-{name[2:]}), given {values}")
        return problems
    if not values:
        return [f"{name} needs a value"]
    if shape.type_name == "list":
        members = shape.member
        for value in values:
            problems += _check_scalar(name, members, value)
        return problems
    if len(values) > 1:
        return [f"{name} takes one value, given {values}"]
    return _check_scalar(name, shape, values[0])


def _check_scalar(name: str, shape: Shape, value: str) -> list[str]:
    if value.startswith("$"):  # a variable the runbook's lookups set: checked where it is looked up
        return []
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        return [f"{name} {value!r} is not one of {sorted(shape.enum)}"]
    if shape.type_name in ("integer", "long"):
        try:
            int(value)
        except ValueError:
            return [f"{name} {value!r} is not an integer"]
    if shape.type_name == "structure":
        if value.lstrip().startswith("{"):
            try:
                return _check_json(name, shape, json.loads(value))
            except json.JSONDecodeError as exc:
                return [f"{name} is not valid JSON: {exc}"]
        return _check_shorthand(name, shape, value)
    return []


def _top_level(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside brackets and braces."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _check_shorthand(name: str, shape: Shape, value: str) -> list[str]:
    """The CLI's shorthand syntax (`Key=Value,Key={Nested=...}`): each key a member, nested structures
    and enum values checked as well."""
    problems = []
    for pair in _top_level(value, ","):
        key, equals, item = pair.partition("=")
        if not equals:
            return [f"{name} {value!r} is neither JSON nor Key=Value shorthand"]
        if key not in shape.members:
            problems.append(f"{name}.{key} is not a member of {shape.name}")
            continue
        member = shape.members[key]
        if member.type_name == "structure" and item.startswith("{") and item.endswith("}"):
            problems += _check_shorthand(f"{name}.{key}", member, item[1:-1])
        elif member.type_name == "list" and item.startswith("[") and item.endswith("]"):
            problems += _check_shorthand_list(f"{name}.{key}", member.member, item[1:-1])
        elif member.type_name in ("string", "integer", "long"):
            problems += _check_scalar(f"{name}.{key}", member, item)
    problems += [
        f"{name} lacks required {key}"
        for key in shape.required_members
        if key not in {pair.partition("=")[0] for pair in _top_level(value, ",")}
    ]
    return problems


def _check_shorthand_list(name: str, member: Shape, text: str) -> list[str]:
    """A shorthand list (`[{Key=Value},{Key=Value}]`, `[1,2]`): each element against the list's member."""
    problems = []
    for element in _top_level(text, ",") if text else []:
        if member.type_name == "structure":
            if not (element.startswith("{") and element.endswith("}")):
                problems.append(f"{name} element {element!r} should be a {{...}} structure")
                continue
            problems += _check_shorthand(name, member, element[1:-1])
        else:
            problems += _check_scalar(name, member, element)
    return problems


def _check_json(name: str, shape: Shape, value: Any) -> list[str]:
    """A JSON argument's keys against the structure's members, recursively, with enum values."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [f"{name} should be an object, got {value!r}"]
        problems = [
            f"{name}.{key} is not a member of {shape.name}" for key in value if key not in shape.members
        ]
        problems += [f"{name} lacks required {key}" for key in shape.required_members if key not in value]
        for key, item in value.items():
            if key in shape.members:
                problems += _check_json(f"{name}.{key}", shape.members[key], item)
        return problems
    if shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{name} should be a list, got {value!r}"]
        return [problem for item in value for problem in _check_json(name, shape.member, item)]
    if shape.type_name == "string" and shape.enum and isinstance(value, str) and value not in shape.enum:
        return [f"{name} {value!r} is not one of {sorted(shape.enum)}"]
    return []


def validate(argv: list[str]) -> list[str]:
    """Every problem with one `aws` command; [] when it parses against the model."""
    invocation, problems = parse(argv)
    if invocation is None:
        return problems
    model: OperationModel = (
        session().get_service_model(invocation.service).operation_model(invocation.operation)
    )
    members = model.input_shape.members if model.input_shape else {}
    by_option = {f"--{xform_name(member, '-')}": member for member in members}
    allowed = {**GLOBAL_OPTIONS, **COMMAND_OPTIONS}
    if _paginated(invocation.service, invocation.operation):
        allowed |= PAGINATION_OPTIONS
    given: set[str] = set()
    for option, values in invocation.options.items():
        if option in by_option:
            given.add(by_option[option])
            problems += _check_value(option, members[by_option[option]], values)
        elif option.startswith("--no-") and f"--{option[5:]}" in by_option:
            member = by_option[f"--{option[5:]}"]
            given.add(member)
            if members[member].type_name != "boolean":
                problems.append(f"{option}: --{option[5:]} is not a boolean")
        elif option in allowed:
            takes_value = allowed[option]
            if takes_value and len(values) != 1:
                problems.append(f"{option} takes one value, given {values}")
            if not takes_value and values:
                problems.append(f"{option} takes no value, given {values}")
            if option in GLOBAL_ENUMS and values and values[0] not in GLOBAL_ENUMS[option]:
                problems.append(f"{option} {values[0]!r} is not one of {sorted(GLOBAL_ENUMS[option])}")
        else:
            problems.append(f"{option} is not a parameter of {invocation.operation} ({sorted(by_option)})")
    required = set(model.input_shape.required_members) if model.input_shape else set()
    if not {"--cli-input-json", "--cli-input-yaml"} & set(invocation.options):
        problems += [f"missing required --{xform_name(member, '-')}" for member in sorted(required - given)]
    return problems
