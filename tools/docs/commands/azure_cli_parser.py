"""Runs inside azure-cli's own venv (build/azure-cli-venv, `make azure-cli`), never in the project's: reads
one JSON argument list a line (the words after `az`) and answers one JSON line: {"problem": null} when
azure-cli's own parser accepts the command, else {"problem": "<what azure-cli says>"}.

Each command goes through what `az` does before it runs anything (azure.cli.core.commands.AzCliCommandInvoker
.execute): load the command table for the words given, load that command's arguments, build the argparse
parser from them and parse. Nothing after that runs: no argument validators (some resolve names in the
subscription), no credentials, no request: only the argument validators in OFFLINE_VALIDATORS, which read
the parsed values alone (`az lock list -g RG --resource-type T` is refused by one of them, not by the parser).
The parser's error paths are replaced by ones that raise, so a
refusal is reported instead of printed with recommendations (which would ask a web service) and exited on.
"""

import json
import sys

from azure.cli.core import get_default_cli
from azure.cli.core import parser as az_parser
from azure.cli.core.aaz import AAZUndefined
from azure.cli.core.commands.events import EVENT_INVOKER_POST_LOAD_ARGUMENTS, EVENT_INVOKER_PRE_LOAD_ARGUMENTS
from knack.events import (
    EVENT_INVOKER_CMD_TBL_LOADED,
    EVENT_INVOKER_POST_CMD_TBL_CREATE,
    EVENT_INVOKER_POST_PARSE_ARGS,
)
from knack.util import CLIError


class Refused(Exception):
    pass


# Argument validators (module, function) that check the parsed values against each other and nothing else:
# azure-cli's resource module, _validators.py: validate_lock_parameters raises "--resource-type is ignored
# if --resource is not given." and the like (internal_validate_lock_parameters).
OFFLINE_VALIDATORS = {("azure.cli.command_modules.resource._validators", "validate_lock_parameters")}


def _offline_validators(command):
    """The command's argument validators that are in OFFLINE_VALIDATORS, each once."""
    found = []
    for argument in command.arguments.values() if command is not None else ():
        validator = argument.type.settings.get("validator")
        key = (getattr(validator, "__module__", None), getattr(validator, "__name__", None))
        if key in OFFLINE_VALIDATORS and validator not in found:
            found.append(validator)
    return found


def _error(self, message):
    raise Refused(message)


def _check_value(self, action, value):
    """argparse's choice check (commands and enum values) without azure-cli's recommendations."""
    if action.choices is None or value in action.choices:
        return
    if not getattr(self, "command_source", None):
        raise Refused(f"'{value}' is not a command of `{self.prog}`")
    option = action.option_strings[0] if action.option_strings else action.dest
    allowed = ", ".join(str(choice) for choice in action.choices)
    raise Refused(f"'{value}' is not a valid value for {option}; allowed: {allowed}")


az_parser.AzCliCommandParser.error = _error
az_parser.AzCliCommandParser.validation_error = _error
az_parser.AzCliCommandParser._check_value = _check_value


def parse(cli, args):
    invocation = cli.invocation_cls(
        cli_ctx=cli,
        parser_cls=cli.parser_cls,
        commands_loader_cls=cli.commands_loader_cls,
        help_cls=cli.help_cls,
    )
    cli.invocation = invocation
    loader = invocation.commands_loader
    loader.load_command_table(args)
    command = invocation._rudimentary_get_command(args)
    invocation.data["command_string"] = command
    if command in loader.command_table:
        loader.command_table = {command: loader.command_table[command]}
    loader.command_name = command
    # The events `az` raises around loading a command's arguments: their handlers add what the parser needs,
    # such as `--ids` in place of the name and resource group of a resource's show, update or delete.
    cli.raise_event(EVENT_INVOKER_PRE_LOAD_ARGUMENTS, commands_loader=loader)
    loader.load_arguments(command)
    cli.raise_event(EVENT_INVOKER_POST_LOAD_ARGUMENTS, commands_loader=loader)
    # Required parts of a resource id (name, resource group) stop being required once `--ids` is added; `az`
    # checks them after parsing (commands/arm.py parse_ids_arguments; AAZ commands when they run).
    id_parts = _required_id_parts(loader.command_table.get(command))
    cli.raise_event(EVENT_INVOKER_POST_CMD_TBL_CREATE, commands_loader=loader)
    invocation.parser.cli_ctx = cli
    invocation.parser.load_command_table(loader)
    cli.raise_event(EVENT_INVOKER_CMD_TBL_LOADED, cmd_tbl=loader.command_table, parser=invocation.parser)
    try:
        parsed = invocation.parser.parse_args(args)
        # Its handlers check what argparse cannot: `--ids`, the `--query` expression.
        cli.raise_event(EVENT_INVOKER_POST_PARSE_ARGS, command=parsed.command, args=parsed)
        for validator in _offline_validators(loader.command_table.get(command)):
            validator(parsed)
    except Refused as refused:
        return str(refused)
    except CLIError as refused:
        # An argument's own action refused its value. A shell variable ("$RESTORE_TIME") is set by the reader
        # when the runbook runs: its value cannot be checked here, the rest of the command was.
        if "$" in str(refused):
            return None
        return str(refused)
    if getattr(parsed, "command", None) != command or command not in loader.command_table:
        return f"`az {' '.join(args)}` names a command group, not a command"
    if not (getattr(parsed, "ids", None) or getattr(parsed, "_ids", None)):
        missing = [option for name, option in id_parts if getattr(parsed, name, None) in (None, AAZUndefined)]
        if missing:
            return f"the following arguments are required: {', '.join(missing)} (or --ids)"
    return None


def _required_id_parts(command):
    """(dest, first option) of each required argument that is part of the resource's id."""
    if command is None:
        return []
    return [
        (argument.name, argument.type.settings["options_list"][0])
        for argument in command.arguments.values()
        if argument.type.settings.get("id_part") and argument.type.settings.get("required")
    ]


def main():
    cli = get_default_cli()
    for line in sys.stdin:
        print(json.dumps({"problem": parse(cli, json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
