"""What a Pulumi program reads before it registers anything: its environment spec and its own config.

Both Pulumi projects call these first, so an invalid spec or stack config fails with one message naming
the environment, the field, the value and what is allowed, and nothing half-built is left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar

import pulumi
from pulumi.runtime import config as pulumi_config
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_snake

from refarch.bundle import Bundle, build_bundle
from refarch.errors import Problem, SpecError
from refarch.platforms import CLOUDS, PlatformError
from refarch.spec import EnvironmentSpec, load_environment, problems_from
from refarch.spec_reads import leaf_paths
from refarch.wheelhouse import WheelhouseError

Model = TypeVar("Model", bound=BaseModel)
ProviderModel = TypeVar("ProviderModel", bound=BaseModel)
SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def flatten_overrides(environment: str, tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"capacity": {"max": 4}}` -> `{"dev.capacity.max": 4}`, the form `apply_overrides` takes."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            flat.update(flatten_overrides(environment, value, path))
        else:
            flat[f"{environment}.{path}"] = value
    return flat


def environment_name(config: pulumi.Config) -> str:
    """The stack deploys the environment named by config `environment`, else the one named like the stack."""
    return config.get("environment") or pulumi.get_stack()


def environment_spec(config: pulumi.Config) -> EnvironmentSpec:
    """The validated spec, with the stack's `spec` config object applied as overrides.

    `pulumi config set --path 'spec.capacity.max' 8` overrides `capacity.max` for this stack only, the way
    `-c spec.prod.capacity.max=8` does for a CDK deployment.
    """
    environment = environment_name(config)
    try:
        tree = config.get_object("spec") or {}
    except pulumi.ConfigTypeError:
        raise SpecError(
            environment, [Problem(f"{config.name}:spec", config.get("spec"), "must be a YAML/JSON object")]
        ) from None
    if not isinstance(tree, Mapping):
        raise SpecError(
            environment, [Problem(f"{config.name}:spec", tree, "must be an object of spec fields")]
        )
    return load_environment(environment, overrides=flatten_overrides(environment, tree))


def stack_settings(environment: str, namespace: str, model: type[Model], raw: Mapping[str, Any]) -> Model:
    """Validate a project's own stack config (location, project, region ...) with the spec's error form."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [
            Problem(f"{namespace}:{problem.field}", problem.value, problem.rule)
            for problem in problems_from(exc)
        ]
        raise SpecError(environment, problems) from None


def read_settings(config: pulumi.Config, model: type[BaseModel]) -> dict[str, Any]:
    """The raw values of every field `model` declares, read from the project's config namespace.

    Objects and lists are parsed from their JSON form; unset fields are left out so the model's
    defaults apply. Values are keyed by the config key (a field's alias), so errors name what users set.
    """
    raw: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = config.get(key)
        if value is None:
            continue
        try:
            raw[key] = config.get_object(key)
        except pulumi.ConfigTypeError:
            raw[key] = value
    return raw


# Keys every project reads besides its settings model (environment_name, environment_spec).
SHARED_KEYS = ("environment", "spec")


def spec_set_command(path: str) -> str:
    """The command that sets one spec field for a stack, through its `spec` config object."""
    return f"pulumi config set --path spec.{path} '<text>'"


# How a stack sets the spec's alarms.escalation (the production error's hint; each project's README).
HOW_TO_SET_ESCALATION = f"environments.toml, or `{spec_set_command('alarms.escalation')}`"


def unknown_keys(
    config: pulumi.Config, model: type[BaseModel], also: tuple[str, ...] = SHARED_KEYS
) -> list[Problem]:
    """Keys in the project's namespace that nothing reads: a typo would silently fall back to a default."""
    known = {field.alias or name for name, field in model.model_fields.items()} | set(also)
    prefix = f"{config.name}:"
    return [
        Problem(key, value, _unknown_key_rule(key.removeprefix(prefix)))
        for key, value in sorted(pulumi_config.CONFIG.get().items())
        if key.startswith(prefix) and key.removeprefix(prefix) not in known
    ]


def _unknown_key_rule(key: str) -> str:
    """A size that used to be stack config (`vmSize`) is now a field of a cloud's spec table: say which."""
    field = to_snake(key)
    for cloud in CLOUDS:
        if field in EnvironmentSpec.model_fields[cloud].annotation.model_fields:
            return (
                f"no such setting: sizes are the spec's now, `pulumi config set --path spec.{cloud}.{field}`"
            )
    return "no such setting (check the spelling)"


def release_bundle(environment: str, cloud: str, field: str, instance_type: str) -> Bundle:
    """The self-contained release the stack's instances boot from, built before anything is registered: an
    instance type whose platform some locked package has no wheel for is refused like a bad config value,
    naming the package and the platform."""
    try:
        return build_bundle(cloud, instance_type)
    except (WheelhouseError, PlatformError) as error:
        raise SpecError(environment, [Problem(field, instance_type, str(error))]) from None


@dataclass(frozen=True, kw_only=True)
class ValidatedStack(Generic[ProviderModel, SettingsModel]):
    """Everything a program builds from, all of it checked: nothing is registered before this exists."""

    spec: EnvironmentSpec
    provider: ProviderModel
    settings: SettingsModel
    bundle: Bundle


@dataclass(frozen=True, kw_only=True)
class StackPipeline(Generic[ProviderModel, SettingsModel]):
    """How one Pulumi project reads its config: the provider namespace's model, its own namespace's model,
    the checks that need the spec as well, and which spec field names the instances' size."""

    cloud: str
    provider_namespace: str
    provider_model: type[ProviderModel]
    settings_model: type[SettingsModel]
    # The spec field (dotted, as errors name it: `azure.vm_size`) holding the instance size the release
    # bundle is built for.
    instance_field: str
    # Rules on the spec alone that only this cloud has.
    spec_checks: Callable[[EnvironmentSpec], list[Problem]] = lambda spec: []
    # Rules across the spec and the validated config (production needs someone to alert, zones inside the
    # region ...), given the project's `<namespace>`. They run once the project's settings are valid; the
    # provider's settings are None when invalid (their problems are reported already), so the rules that need
    # no provider setting still report theirs in the same error.
    config_checks: Callable[[EnvironmentSpec, ProviderModel | None, SettingsModel, str], list[Problem]] = (
        lambda spec, provider, settings, namespace: []
    )

    def __post_init__(self) -> None:
        # A misspelt field would otherwise surface only as an AttributeError half way through a preview.
        if self.instance_field not in leaf_paths(EnvironmentSpec):
            field = self.instance_field
            raise ValueError(f"{self.cloud}: instance_field {field!r} is not a field of the spec")

    def instance_type(self, spec: EnvironmentSpec) -> str:
        return attrgetter(self.instance_field)(spec)


def validated_stack(pipeline: StackPipeline[ProviderModel, SettingsModel]) -> ValidatedStack:
    """Read config -> validate -> build the release: the spec (with the stack's overrides), both config
    namespaces and the cross checks, every problem in one SpecError, then the bundle instances boot from."""
    config = pulumi.Config()
    spec = environment_spec(config)
    problems = unknown_keys(config, pipeline.settings_model) + pipeline.spec_checks(spec)
    provider = settings = None
    provider_config = pulumi.Config(pipeline.provider_namespace)
    try:
        provider = stack_settings(
            spec.name,
            provider_config.name,
            pipeline.provider_model,
            read_settings(provider_config, pipeline.provider_model),
        )
    except SpecError as exc:
        problems += exc.problems
    try:
        settings = stack_settings(
            spec.name, config.name, pipeline.settings_model, read_settings(config, pipeline.settings_model)
        )
    except SpecError as exc:
        problems += exc.problems
    if settings is not None:
        problems += pipeline.config_checks(spec, provider, settings, config.name)
    if problems or provider is None or settings is None:
        raise SpecError(spec.name, problems)
    bundle = release_bundle(spec.name, pipeline.cloud, pipeline.instance_field, pipeline.instance_type(spec))
    return ValidatedStack(spec=spec, provider=provider, settings=settings, bundle=bundle)
