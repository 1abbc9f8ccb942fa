"""`pulumi` commands a runbook uses to read a stack's outputs and to redeploy, checked against the project
itself (the Pulumi CLI cannot be installed here): the subcommand is one of the few runbooks use, with only
its documented flags ("pulumi stack output", "pulumi up", "pulumi stack history" in the Pulumi CLI reference,
https://www.pulumi.com/docs/iac/cli/commands/), `--cwd` names a Pulumi project under pulumi/, `--stack` one of
its Pulumi.<stack>.yaml, an output name is one its program exports, and a config key ("pulumi config set",
"pulumi config rm", "pulumi config get") is one its program reads.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

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
    # "pulumi config set" / "pulumi config rm" / "pulumi config get" in the same reference.
    ("config", "set"): ({"--stack", "-s", "--cwd", "-C"}, {"--path", "--plaintext", "--secret"}),
    ("config", "rm"): ({"--stack", "-s", "--cwd", "-C"}, {"--path"}),
    ("config", "get"): ({"--stack", "-s", "--cwd", "-C"}, {"--json", "-j", "--path"}),
}
# Config subcommands and how many positional arguments each takes (the key, and for `set` its value).
CONFIG_ARGUMENTS = {("config", "set"): 2, ("config", "rm"): 1, ("config", "get"): 1}


@cache
def config_keys(project: Path) -> frozenset[str]:
    """The config keys a project's program reads, fully named: its own namespace's (the settings model's
    keys and the shared `environment` and `spec`) and the provider namespace's it validates."""
    from refarch_pulumi.offline import PulumiProject
    from refarch_pulumi.stack import SHARED_KEYS

    pulumi_project = PulumiProject(project.name, project)
    pipeline = pulumi_project.module("program").PIPELINE
    own = pulumi_project.name
    keys = {f"{own}:{field.alias or name}" for name, field in pipeline.settings_model.model_fields.items()}
    keys |= {f"{own}:{key}" for key in SHARED_KEYS}
    provider = pipeline.provider_namespace
    keys |= {
        f"{provider}:{field.alias or name}" for name, field in pipeline.provider_model.model_fields.items()
    }
    return frozenset(keys)


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
    elif subcommand in CONFIG_ARGUMENTS:
        if len(positional) != CONFIG_ARGUMENTS[subcommand]:
            problems.append(
                f"`pulumi {' '.join(subcommand)}` takes {CONFIG_ARGUMENTS[subcommand]} argument(s), "
                f"not {positional}"
            )
        else:
            key = _full_key(project, positional[0], path="--path" in rest)
            if key not in (known := config_keys(project)):
                problems.append(f"config key {positional[0]!r} is not one {cwd} reads ({sorted(known)})")
    elif positional:
        problems.append(f"`pulumi {' '.join(subcommand)}` takes no argument {positional}")
    return problems


def _full_key(project: Path, key: str, *, path: bool) -> str:
    """`itemsAccount` -> `refarch-azure:itemsAccount`; with --path, `spec.capacity.max` names key `spec`."""
    if path:
        namespace, colon, rest = key.rpartition(":")
        key = f"{namespace}{colon}{rest.split('.')[0].split('[')[0]}"
    if ":" in key:
        return key
    from refarch_pulumi.offline import PulumiProject

    return f"{PulumiProject(project.name, project).name}:{key}"
