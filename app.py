#!/usr/bin/env python3
"""CDK entry point: one stack per environment in environments.toml.

The region is cdk.json's `region` context, overridden with `-c region=...` (the CLI's CDK_DEFAULT_REGION
is not read: stacks/region.py says why); the account is `-c account=...` or CDK_DEFAULT_ACCOUNT. Spec
values can be overridden per deployment with `-c spec.<environment>.<field>=<value>`, e.g.
`cdk deploy -c spec.prod.capacity.max=20`.
"""

import sys

from aws_cdk import App

from refarch.errors import SpecError
from stacks.app_builder import build_app, cli_context, spec_overrides
from stacks.region import RegionError

try:
    app = build_app(App(), overrides=spec_overrides(cli_context()))
except (SpecError, RegionError) as error:
    # A bad spec, region or instance type (no release bundle for it) is named, not traced back.
    sys.exit(str(error))
app.synth()
