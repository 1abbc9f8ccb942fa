"""Runs inside azure-cli's own venv (build/azure-cli-venv, `make azure-cli`), never in the project's: reads
one JSON argument list a line (the words after `az`) and answers one JSON line: {"problem": null} when
azure-cli's own parser accepts the command, else {"problem": "<what azure-cli says>"}.

Each command goes through what `az` does before it runs anything (azure.cli.core.commands.AzCliCommandInvoker
.execute): load the command table for the words given, load that command's arguments, build the argparse
parser from them and parse. Nothing after that runs: no argument validators (some resolve names in the
subscription), no credentials, no request. The parser's error paths are replaced by ones that raise, so a
refusal is reported instead of printed with recommendations (which would ask a web service) and exited on.
"""

import json
import sys

from azure.cli.core import get_default_cli
from azure.cli.core import parser as az_parser
from knack.util import CLIError


class Refused(Exception):
    pass


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
    loader.load_arguments(command)
    invocation.parser.cli_ctx = cli
    invocation.parser.load_command_table(loader)
    try:
        parsed = invocation.parser.parse_args(args)
    except Refused as refused:
        return str(refused)
    except CLIError as refused:
        # An argument's own action refused its value. A shell variable ("$RESTORE_TIME") is set by the reader
        # when the runbook runs: its value cannot be checked here, the rest of the command was.
        if "'$" in str(refused):
            return None
        return str(refused)
    if getattr(parsed, "command", None) != command or command not in loader.command_table:
        return f"`az {' '.join(args)}` names a command group, not a command"
    return None


def main():
    cli = get_default_cli()
    for line in sys.stdin:
        print(json.dumps({"problem": parse(cli, json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
