#!/usr/bin/env python3
"""CDK entry point: one stack per environment in environments.toml.

Account and region come from the CDK's usual places (`-c account=... -c region=...` or
CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION). Spec values can be overridden per deployment with
`-c spec.<environment>.<field>=<value>`, e.g. `cdk deploy -c spec.prod.capacity.max=20`.
"""

import sys

from aws_cdk import App

from refarch.errors import SpecError
from stacks.app_builder import build_app, cli_context, spec_overrides

try:
    app = build_app(App(), overrides=spec_overrides(cli_context()))
except SpecError as error:
    # A bad spec (or an instance type no release bundle can be built for) is named, not traced back.
    sys.exit(str(error))
app.synth()
