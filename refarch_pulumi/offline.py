"""Run a Pulumi project offline: no CLI, no plugins, no credentials.

The program runs under `pulumi.runtime.set_mocks` with the config of one of its `Pulumi.<stack>.yaml`
files, and a recording monitor keeps every registered resource (type, name, parent, inputs) with
secrets masked. `make synth` writes that inventory to `build/inventory/<cloud>-<stack>.json`; the
tests assert on the same inventory.

A project under `pulumi/<cloud>/` follows one convention so this module needs nothing else from it:
its package `<cloud>_stack` has `program.main()` (what `__main__.py` runs) and `offline.py` with
`Mocks` (a `CloudMocks` subclass) and `SDK_MODULES` (the SDK modules the program imports).
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from refarch import ROOT
from refarch.errors import SpecError
from refarch.inventory import MASK, Inventory, Resource
from refarch.spec import read_raw
from refarch.stack_config import config_problems

PULUMI_DIR = ROOT / "pulumi"
INVENTORY_DIR = ROOT / "build" / "inventory"

# Signatures the Pulumi wire format uses for special values (pulumi/runtime/rpc.py).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE = "0def7320c3a5731c473e5ecbe6d01bc7"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def mock_id(name: str) -> str:
    """The id CloudMocks gives the resource named `name`: what another resource's input holds when it
    refers to that one, so tests can follow the wiring."""
    return f"{name}-id"


class CloudMocks(pulumi.runtime.Mocks):
    """Answers the engine the way a provider would, offline. Subclasses say what a cloud computes."""

    def resource_id(self, args: pulumi.runtime.MockResourceArgs) -> str:
        return mock_id(args.name)

    def computed(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        """Outputs the provider would compute (host names, principal IDs) that the program reads."""
        return {}

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError(f"no offline answer for the data source {token}; add one to the mocks")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return self.resource_id(args), {**args.inputs, **self.computed(args)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        # An empty list of check failures: the mock monitor iterates it, so None would raise.
        return self.invoke(args.token, args.args), []


def _plain(value: Any) -> Any:
    """Wire-format JSON -> inventory JSON: secrets masked, references and assets made readable."""
    if isinstance(value, dict):
        signature = value.get(_SIG)
        if signature == _SECRET:
            return MASK
        if signature == _RESOURCE:
            return value.get("id") or value.get("urn")
        if signature == _ASSET:
            return {"asset": value.get("path") or value.get("uri") or "(inline text)"}
        if signature == _ARCHIVE:
            return {"archive": value.get("path") or value.get("uri") or sorted(value.get("assets", {}))}
        return {key: _plain(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_plain(child) for child in value]
    if value == _UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parent_name(parent_urn: str) -> str | None:
    if not parent_urn or parent_urn.split("::")[2].endswith("pulumi:pulumi:Stack"):
        return None
    return parent_urn.rsplit("::", 1)[-1]


# The mock monitor runs on worker threads and gives each its own event loop, which nothing closes. Left to
# the garbage collector at interpreter exit, such a loop sometimes finds its self-pipe already closed and
# prints "Exception ignored ... Invalid file descriptor"; closing them at exit, before that, keeps quiet.
_worker_loops: set[asyncio.AbstractEventLoop] = set()


@atexit.register
def _close_worker_loops() -> None:
    for loop in _worker_loops:
        if not loop.is_running() and not loop.is_closed():
            loop.close()


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping what each registration asked for (not what the mock answered)."""

    def __init__(self, mocks: CloudMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        # What each component registered as its outputs, by name (the root component's are the stack's).
        self.outputs: dict[str, dict[str, Any]] = {}

    def RegisterResourceOutputs(self, request):
        self.outputs[request.urn.rsplit("::", 1)[-1]] = _plain(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            _worker_loops.add(asyncio.get_event_loop())  # the one the mock monitor made for this thread
            inputs = _plain(json_format.MessageToDict(request.object))
            options = {"ignoreChanges": list(request.ignoreChanges)} if request.ignoreChanges else {}
            # What outlives `pulumi destroy` (each README's Teardown): protected resources and those left
            # behind.
            options |= {name: True for name in ("protect", "retainOnDelete") if getattr(request, name)}
            self.recorded.append(
                Resource(
                    request.type,
                    request.name,
                    _parent_name(request.parent),
                    inputs,
                    bool(request.custom),
                    depends_on=tuple(sorted({urn.rsplit("::", 1)[-1] for urn in request.dependencies})),
                    custom_timeouts={
                        key: value
                        for key, value in json_format.MessageToDict(request.customTimeouts).items()
                        if value
                    },
                    options=options,
                )
            )
        return response


def _without_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
    """Aliases map a resource's earlier URNs onto existing state. Offline there is no state, so they change
    nothing that is recorded, yet each costs the SDK several outputs (azure-native gives every resource
    one per API version it ever had: most of an offline run's time). `pulumi up` still sends them."""
    opts = copy.copy(args.opts)
    opts.aliases = None
    return pulumi.ResourceTransformationResult(args.props, opts)


def _ensure_event_loop() -> None:
    # The runtime drives the program on the current loop; an asyncio.run() earlier in the same process
    # (a service test, say) leaves none behind.
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_offline(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    mocks: CloudMocks,
    monitor: RecordingMonitor | None = None,
) -> Inventory:
    """Run `program` as `pulumi up` would for `stack`, against mocks; return what it registered.

    Exceptions from the program (an invalid spec, say) propagate after the runtime settles; pass a
    `monitor` to see what was registered before one was raised.
    """
    _ensure_event_loop()
    monitor = monitor or RecordingMonitor(mocks)
    pulumi_settings.ROOT.set(None)  # each run gets its own root stack resource
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config))

    def stateless_program() -> None:
        pulumi.runtime.register_stack_transformation(_without_aliases)
        program()

    _sync_await(run_pulumi_func(stateless_program))
    # The top component's outputs are the stack's (refarch_pulumi.component `export`).
    roots = [r.name for r in monitor.recorded if r.parent is None and not r.custom]
    outputs = {key: value for root in roots for key, value in monitor.outputs.get(root, {}).items()}
    return Inventory(sorted(monitor.recorded, key=lambda r: (r.type, r.parent or "", r.name)), outputs)


class StackConfigError(ValueError):
    pass


def _config_string(value: Any) -> str:
    # The CLI hands a program every config value as a string; objects and lists as JSON.
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class PulumiProject:
    cloud: str
    directory: Path

    @property
    def package(self) -> str:
        return f"{self.cloud}_stack"

    def _yaml(self, path: Path) -> dict[str, Any]:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            return yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise StackConfigError(f"{self.cloud}: {shown} does not exist") from None
        except yaml.YAMLError as exc:
            raise StackConfigError(f"{self.cloud}: {shown} is not valid YAML ({exc})") from None

    @property
    def name(self) -> str:
        return self._yaml(self.directory / "Pulumi.yaml")["name"]

    def stacks(self) -> list[str]:
        files = self.directory.glob("Pulumi.*.yaml")
        names = [path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in files]
        order = list(read_raw())  # the spec's order (dev, staging, prod), not the alphabet's
        return sorted(names, key=lambda name: (order.index(name) if name in order else len(order), name))

    def config(self, stack: str) -> dict[str, str]:
        """The config the CLI would give the program: project defaults, then the stack file."""
        project = self._yaml(self.directory / "Pulumi.yaml")
        values: dict[str, Any] = {}
        for key, declared in (project.get("config") or {}).items():
            value = declared.get("default") if isinstance(declared, dict) else declared
            if value is not None:
                values[key if ":" in key else f"{project['name']}:{key}"] = value
        stack_file = self._yaml(self.directory / f"Pulumi.{stack}.yaml")
        for key, value in (stack_file.get("config") or {}).items():
            values[key if ":" in key else f"{project['name']}:{key}"] = value
        return {key: _config_string(value) for key, value in values.items()}

    def module(self, name: str):
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))
        return importlib.import_module(f"{self.package}.{name}")

    def preview(
        self, stack: str, config: Mapping[str, str] | None = None, monitor: RecordingMonitor | None = None
    ) -> Inventory:
        """The inventory of `stack`; `config` replaces the stack file's (tests use it for bad values).

        Config the program would never read (an unknown namespace, a misspelt provider key) is refused first.
        """
        config = self.config(stack) if config is None else config
        offline = self.module("offline")
        if problems := config_problems(config, self.name, offline.SDK_MODULES):
            raise SpecError(stack, problems)
        program = self.module("program").main
        mocks = offline.Mocks()
        return run_offline(
            program,
            project=self.name,
            stack=stack,
            config=config,
            mocks=mocks,
            monitor=monitor or RecordingMonitor(mocks),
        )

    def refusal(self, stack: str, config: Mapping[str, str]) -> SpecError:
        """The SpecError `config` is refused with; fails unless the refusal came before any registration.

        Tests of bad config call this, so each also proves nothing half-built would be left behind.
        """
        mocks = self.module("offline").Mocks()
        monitor = RecordingMonitor(mocks)
        try:
            self.preview(stack, config, monitor)
        except SpecError as exc:
            if monitor.recorded:
                names = [f"{r.type} {r.name}" for r in monitor.recorded]
                raise AssertionError(f"refused only after registering {names}") from exc
            return exc
        raise AssertionError(f"{self.cloud} {stack} accepted config {dict(config)!r}")

    def inventory_path(self, stack: str) -> Path:
        return INVENTORY_DIR / f"{self.cloud}-{stack}.json"


def projects() -> list[PulumiProject]:
    """Every Pulumi project in the repository, by the `pulumi/<cloud>/Pulumi.yaml` convention."""
    return [PulumiProject(path.parent.name, path.parent) for path in sorted(PULUMI_DIR.glob("*/Pulumi.yaml"))]


def project(cloud: str) -> PulumiProject:
    for candidate in projects():
        if candidate.cloud == cloud:
            return candidate
    raise StackConfigError(f"no Pulumi project for {cloud!r}; projects: {[p.cloud for p in projects()]}")
