"""Offline validation of every command a runbook asks a reader to run, against each CLI's own model.

A runbook command is a shell snippet: one or more simple commands joined by `|`, `&&`, `||`, `;` or new
lines, continued with a trailing backslash, using variables the runbook's lookups set ("$TABLE"). Each
simple command whose program is a cloud CLI goes to that CLI's validator, a module here exposing

    validate(argv: list[str]) -> list[str]      # every problem found, [] when the command parses

Other programs must be in HELPERS (plain tools a reader has everywhere); anything else is a problem too.
"""

from __future__ import annotations

import importlib
import re
import shlex

_SUBSTITUTION = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=\$\((?!\()(.*)\)\s*(?:#.*)?$")
_REDIRECTION = re.compile(r"(?<!\S)[0-9]?>(?:&[0-9]|\s*/dev/null)(?!\S)")
# CLI program -> validator module under tools/docs/commands/.
VALIDATORS = {"aws": "aws_cli", "az": "azure_cli", "gcloud": "gcloud", "pulumi": "pulumi_cli"}
# Programs runbooks may use besides the cloud CLIs.
# `:` is the shell's no-op, used for `: "${NAME:?}"` guards (stop when a lookup printed nothing).
HELPERS = frozenset(
    {
        "curl",
        "jq",
        "sleep",
        "echo",
        "printf",
        "test",
        "date",
        "grep",
        "watch",
        "true",
        "git",
        "set",
        ":",
        "mv",
        # leaves a watch loop once what it waits for has happened (the loop prints why)
        "break",
        # `read -rs` takes a secret without echoing it or leaving it in the shell history; `.` and `source`
        # read a runbook's state file back into the shell (values kept for a re-run after a lost shell).
        ".",
        "read",
        "source",
    }
)
# Shell keywords that open or close a loop or a condition: the word after one is the program.
_KEYWORDS = frozenset({"until", "while", "do", "done", "if", "then", "elif", "else", "fi", "!"})
# Infrastructure-as-code tools a runbook may run from a checkout of this repository (the stack's own
# commands, not a cloud API: `cdk deploy`, `pulumi up`); their arguments are the project's own.
IAC_TOOLS = frozenset({"cdk", "pulumi"})


def simple_commands(snippet: str) -> list[list[str]]:
    """The snippet's simple commands as argument lists (quotes removed, variables left as written)."""
    commands: list[list[str]] = []
    for line in _without_here_documents(snippet.replace("\\\n", " ").splitlines()):
        # NAME=$(command): the command inside is what runs.
        if substitution := _SUBSTITUTION.match(line):
            # NAME=$((arithmetic)) runs nothing.
            if not substitution.group(1).startswith("("):
                commands += simple_commands(substitution.group(1))
            continue
        # A command substitution inside a line (`until test "$(gcloud ...)" -ge 4`) runs too.
        line, inner = _substitutions(line)
        # Redirections (`2>&1 >/dev/null`: only the error goes down the pipe) are not arguments.
        line = _REDIRECTION.sub(" ", line)
        for snippet in inner:
            commands += simple_commands(snippet)
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
        lexer.whitespace_split = True
        commands.append([])
        for token in lexer:
            if set(token) <= {"|", "&", ";"}:
                commands.append([])
            elif token not in _KEYWORDS or commands[-1]:
                commands[-1].append(token)
    # A leading VAR=value assignment is not the program.
    return [command[_assignments(command) :] for command in commands if command[_assignments(command) :]]


# `<<EOF` (or `<<'EOF'`): the lines up to the one holding only EOF are the command's input, not commands.
# Not a here-string (`<<<word`) nor a shift (`$((1<<2))`, looked for once arithmetic is removed).
_HERE_DOCUMENT = re.compile(r"(?<![<$(])<<(?!<)-?\s*['\"]?([A-Za-z_]\w*)['\"]?")
# `$((...))`, with parentheses inside one level deep.
_ARITHMETIC = re.compile(r"\$\(\((?:[^()]|\([^()]*\))*\)\)")


def _without_here_documents(lines: list[str]) -> list[str]:
    kept: list[str] = []
    ending = None
    for line in lines:
        if ending is not None:
            ending = None if line.strip() == ending else ending
            continue
        kept.append(line)
        if here := _HERE_DOCUMENT.search(_ARITHMETIC.sub("", line)):
            ending = here.group(1)
    return kept


def _substitutions(line: str) -> tuple[str, list[str]]:
    """The line with each `$(...)` replaced by a placeholder, and the commands inside them (an arithmetic
    `$((...))` holds no command)."""
    inner: list[str] = []
    out = []
    index = 0
    while (start := line.find("$(", index)) >= 0:
        depth, end = 0, start + 1
        while end < len(line):
            depth += {"(": 1, ")": -1}.get(line[end], 0)
            if depth == 0:
                break
            end += 1
        if not line.startswith("$((", start):
            inner.append(line[start + 2 : end])
        out += [line[index:start], "SUBSTITUTION"]
        index = end + 1
    return "".join(out) + line[index:], inner


def _assignments(command: list[str]) -> int:
    count = 0
    for token in command:
        name, equals, _ = token.partition("=")
        if not equals or not name.isidentifier():
            break
        count += 1
    return count


def validate(snippet: str) -> list[str]:
    """Every problem in the snippet's commands, each naming the command."""
    problems = []
    for argv in simple_commands(snippet):
        program = argv[0]
        if program in VALIDATORS:
            module = importlib.import_module(f"tools.docs.commands.{VALIDATORS[program]}")
            problems += [f"`{shlex.join(argv)}`: {problem}" for problem in module.validate(argv)]
        elif program not in HELPERS | IAC_TOOLS:
            problems.append(f"`{shlex.join(argv)}`: {program} is neither a cloud CLI nor an allowed helper")
    return problems
