"""Which config keys a Pulumi stack may set: its project's namespace and those of the providers it uses,
with each provider's keys as its SDK declares them.

The CLI passes any `namespace:key` to the program, and the program reads only the keys it asks for, so a
key in a namespace nobody reads (`refarch:cacheSku` in project `refarch-azure`) or a misspelt provider key
(`azure-native:locaton`) would be ignored without a word. The offline runner refuses both first.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from refarch.errors import Problem

# The SDK's generated `config/vars.py` opens the namespace (`__config__ = pulumi.Config('gcp')`) and reads
# each key it documents (`__config__.get('region')`, `get_bool`, `get_object` ...).
_NAMESPACE = re.compile(r"__config__ = pulumi\.Config\('([^']+)'\)")
_KEY = re.compile(r"__config__\.get(?:_[a-z]+)?\('([^']+)'\)")


@cache
def provider_keys(package: str) -> tuple[str, frozenset[str]]:
    """(namespace, keys) of a provider SDK package such as `pulumi_gcp`, from its config module."""
    spec = importlib.util.find_spec(f"{package}.config.vars")
    if spec is None or spec.origin is None:
        raise LookupError(f"{package} has no config module (config/vars.py)")
    source = Path(spec.origin).read_text()
    namespace = _NAMESPACE.search(source)
    if namespace is None:
        raise LookupError(f"{package}'s config module names no namespace")
    return namespace[1], frozenset(_KEY.findall(source))


def provider_packages(sdk_modules: Iterable[str]) -> list[str]:
    """The provider packages among a program's SDK modules (`pulumi_gcp.compute` -> `pulumi_gcp`)."""
    return sorted({module.split(".")[0] for module in sdk_modules if module.split(".")[0] != "pulumi"})


def config_problems(config: Mapping[str, str], project: str, sdk_modules: Iterable[str]) -> list[Problem]:
    """Keys in a namespace that is neither the project's nor a provider's, and provider keys the provider
    does not have, each named with what is allowed."""
    providers = dict(provider_keys(package) for package in provider_packages(sdk_modules))
    namespaces = [project, *providers]
    problems = []
    for full_key, value in sorted(config.items()):
        namespace, _, key = full_key.rpartition(":")
        if namespace == project:
            continue  # the program checks its own keys (refarch_pulumi.stack.unknown_keys)
        if namespace in providers:
            if key not in providers[namespace]:
                known = sorted(providers[namespace])
                near = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean `{near[0]}`?)" if near else ""
                problems.append(
                    Problem(
                        full_key,
                        value,
                        f"unknown key `{key}` of {namespace}{hint}: must be one of {', '.join(known)}",
                    )
                )
            continue
        problems.append(
            Problem(
                full_key,
                value,
                f"unknown namespace `{namespace or '(none)'}`: this project reads only "
                + ", ".join(f"{name}:" for name in namespaces),
            )
        )
    return problems
