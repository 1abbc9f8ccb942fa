"""`pulumi` commands a runbook uses to read a stack's outputs and to redeploy, checked against the project
itself (the Pulumi CLI cannot be installed here): the subcommand is one of the few runbooks use, with only
its documented flags ("pulumi stack output", "pulumi config get", "pulumi up", "pulumi stack history" in the
Pulumi CLI reference, https://www.pulumi.com/docs/iac/cli/commands/), `--cwd` names a Pulumi project under
pulumi/, `--stack` one of its Pulumi.<stack>.yaml, an output name is one its program exports, and a config
key one the stack sets.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import yaml

from refarch import ROOT

# subcommand -> flags that take a value, flags that do not.
SUBCOMMANDS = {
    ("stack", "output"): ({"--stack", "-s", "--cwd", "-C"}, {"--json", "-j", "--show-secrets"}),
    ("stack", "history"): (
        {"--stack", "-s", "--cwd", "-C", "--page-size"},
        {"--json", "-j", "--show-secrets"},
    ),
    ("up",): (
        {"--stack", "-s", "--cwd", "-C", "--message", "-m", "--target", "-t", "--parallel", "-p"},
        {"--yes", "-y", "--skip-preview", "-f", "--refresh", "-r", "--diff"},
    ),
    ("preview",): ({"--stack", "-s", "--cwd", "-C", "--target", "-t"}, {"--diff", "--refresh", "-r"}),
    ("config", "get"): ({"--stack", "-s", "--cwd", "-C"}, {"--json", "-j", "--path"}),
}


def exports(program: Path) -> dict[str, str]:
    """Output name -> the expression the program exports for it: `pulumi.export("name", value)` calls, and
    the keys of a dict literal passed to a root component's `export({...})` (refarch_pulumi.component)."""
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(program.read_text())):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "export" and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and len(node.args) > 1:
            found[first.value] = ast.unparse(node.args[1])
        elif isinstance(first, ast.Dict):
            found |= {
                key.value: ast.unparse(value)
                for key, value in zip(first.keys, first.values, strict=True)
                if isinstance(key, ast.Constant)
            }
    return found


@cache
def exported(project: Path) -> frozenset[str]:
    """The output names a project's program exports."""
    return frozenset(name for path in project.glob("*_stack/program.py") for name in exports(path))


def configured(project: Path, stack: str) -> frozenset[str]:
    """The config keys a stack sets in its Pulumi.<stack>.yaml, or the project declares with a default."""

    def keys(path: Path) -> set[str]:
        return set((yaml.safe_load(path.read_text()) or {}).get("config") or {}) if path.exists() else set()

    name = (yaml.safe_load((project / "Pulumi.yaml").read_text()) or {}).get("name", "")
    declared = {key if ":" in key else f"{name}:{key}" for key in keys(project / "Pulumi.yaml")}
    return frozenset(keys(project / f"Pulumi.{stack}.yaml") | declared)


def validate(argv: list[str]) -> list[str]:
    words = [word for word in argv[1:3] if not word.startswith("-")]
    subcommand = next((key for key in SUBCOMMANDS if tuple(words[: len(key)]) == key), None)
    if subcommand is None:
        return [f"`pulumi {' '.join(words)}` is not a subcommand runbooks may use ({sorted(SUBCOMMANDS)})"]
    with_value, flags = SUBCOMMANDS[subcommand]
    rest = argv[1 + len(subcommand) :]
    problems, values, positional = [], {}, []
    index = 0
    while index < len(rest):
        word = rest[index]
        name, equals, value = word.partition("=")
        if name in with_value:
            if not equals:
                index += 1
                value = rest[index] if index < len(rest) else ""
            values[name.lstrip("-")[0] if len(name) == 2 else name.lstrip("-")] = value
        elif word in flags:
            pass
        elif word.startswith("-"):
            problems.append(f"`pulumi {' '.join(subcommand)}` has no flag {word}")
        else:
            positional.append(word)
        index += 1
    cwd, stack = values.get("cwd", values.get("C")), values.get("stack", values.get("s"))
    if not cwd or not stack:
        return [*problems, "name the project and the stack (--cwd pulumi/<cloud> --stack <environment>)"]
    project = ROOT / cwd
    if not (project / "Pulumi.yaml").exists():
        return [*problems, f"--cwd {cwd} is not a Pulumi project of this repository"]
    if not (project / f"Pulumi.{stack}.yaml").exists():
        problems.append(f"--stack {stack}: {cwd} has no Pulumi.{stack}.yaml")
    if subcommand == ("stack", "output"):
        if len(positional) != 1 or positional[0] not in exported(project):
            problems.append(f"output {positional} is not one {cwd} exports ({sorted(exported(project))})")
    elif subcommand == ("config", "get"):
        known = configured(project, stack)
        if len(positional) != 1 or positional[0] not in known:
            problems.append(f"config key {positional} is not one the {stack} stack sets ({sorted(known)})")
    elif positional:
        problems.append(f"`pulumi {' '.join(subcommand)}` takes no argument {positional}")
    return problems
