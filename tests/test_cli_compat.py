"""What the real Pulumi CLI needs of the project beyond what the mock engine sees: the policy pack's
virtualenv made before any run, the stack files' secrets provider, and the order of the workflows'
installs and credentials. Sources: pulumi/pulumi at 1b59498 (pkg/engine/update.go,
pkg/resource/plugin/plugin.go, sdk/python/toolchain/pip.go, pkg/cmd/pulumi/stack/secrets.go)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from offline import stack_config
from offline.plan import stack_files
from ops import pulumi_stack
from tests.conftest import PROJECT_DIR
from tests.test_workflows import jobs

POLICIES = PROJECT_DIR / "policies"


def make_recipe(target: str) -> str:
    """What `make -n <target>` would run, with every prerequisite already made."""
    result = subprocess.run(["make", "-n", "-B", "--no-print-directory", target], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True)
    return result.stdout


def test_make_install_creates_the_virtualenv_policypulumi_yaml_names_from_the_hashed_lock():
    """The CLI runs a local pack as <pack>/<virtualenv>/bin/python and creates nothing for it
    (pkg/resource/plugin/plugin.go; RunPlugin in pulumi-language-python): make install must."""
    options = yaml.safe_load((POLICIES / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    venv = (POLICIES / options["virtualenv"]).resolve()
    assert venv in {v.resolve() for v in pulumi_stack.VIRTUALENVS}
    recipe = make_recipe("policies/.venv/.installed")
    relative = venv.relative_to(PROJECT_DIR)
    assert f"-m venv {relative}\n" in recipe
    assert re.search(rf"{relative}/bin/pip install .*--require-hashes --no-deps \\\s*\n\s*-r policies/requirements.txt",
                     recipe), recipe
    assert all(line.startswith(("#", "    ")) or "--hash=sha256:" in line or line.rstrip().endswith("\\")
               for line in (POLICIES / "requirements.txt").read_text().splitlines() if line.strip())


def test_the_pack_loads_in_its_virtualenv_with_what_its_lock_pins():
    """make test made it (`install` is a prerequisite): the pack's rules load there, as the CLI's
    `python -m pulumi.policy` would load them, with the lock's pulumi and pulumi-policy."""
    python = POLICIES / ".venv" / "bin" / "python"
    assert python.exists(), "run `make install`"
    pins = dict(re.findall(r"^([a-z0-9-]+)==([^\s\\]+)", (POLICIES / "requirements.txt").read_text(), re.M))
    out = subprocess.run([str(python), "-c", "import importlib.metadata as m, pulumi_policy, ecomind_rules; "
                          "print(m.version('pulumi'), m.version('pulumi-policy'), len(ecomind_rules.RULES))"],
                         cwd=POLICIES, capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == [pins["pulumi"], pins["pulumi-policy"]] and int(out[2]) > 50


def test_the_virtualenv_check_refuses_a_missing_one_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(pulumi_stack, "VIRTUALENVS", (tmp_path / "absent",))
    monkeypatch.setattr(pulumi_stack, "PROJECT_DIR", tmp_path)
    with pytest.raises(pulumi_stack.SetupError, match=re.escape("no virtualenv absent: run `make install` first")):
        pulumi_stack.check_virtualenvs()


# --- secrets provider ---------------------------------------------------------------------------

@pytest.mark.parametrize("stack", stack_files())
def test_every_stack_file_declares_the_bootstraps_secrets_provider_for_its_region(stack):
    """Without `secretsprovider:` the CLI falls back to the passphrase provider on the s3 backend
    (pkg/cmd/pulumi/stack/secrets.go); PULUMI_SECRETS_PROVIDER is no CLI variable at all."""
    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    provider = stack_config.secrets_provider(path)
    region = yaml.safe_load(path.read_text())["config"].get("aws:region", "us-east-1")
    assert provider.url == f"awskms://alias/ecomind-pulumi-secrets-mr?region={region}"
    assert "encryptedkey" in yaml.safe_load(path.read_text())


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: re.sub(r"(?m)^secretsprovider:.*\n", "", text), "secretsprovider = None"),
    (lambda text: re.sub(r"(?m)^encryptedkey:.*\n", "", text), "encryptedkey = None"),
    (lambda text: text.replace('encryptedkey: ""', "encryptedkey: placeholder"), "not the base64 of a KMS ciphertext"),
    (lambda text: text.replace("?region=us-east-1", ""), "expected the bootstrap's awskms:// URL with ?region="),
])
def test_a_stack_file_without_a_usable_secrets_provider_is_refused(tmp_path, edit, message):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(edit((PROJECT_DIR / "Pulumi.dev.yaml").read_text()))
    with pytest.raises(stack_config.StackConfigError, match=re.escape(message)):
        stack_config.secrets_provider(path)


@pytest.mark.parametrize(("key", "message"), [
    ("environment", "'environment' is refused: Pulumi ESC environments need Pulumi Cloud"),
    ("encryptionsalt", "'encryptionsalt' is refused: that is the passphrase secrets provider"),
    ("secretprovider", "'secretprovider' is not a stack file key (the CLI would ignore it)"),
])
def test_a_stack_file_key_the_cli_would_ignore_or_refuse_ends_the_plan_in_one_line(tmp_path, key, message):
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.dev.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text() + f"{key}: x\n")
    with pytest.raises(stack_config.StackConfigError, match=re.escape(message)):
        stack_config.load(tmp_path, "dev")


def test_the_driver_takes_the_secrets_provider_from_the_stack_file_and_refuses_one_without(monkeypatch, tmp_path):
    assert pulumi_stack.stack_secrets_provider("prod-dr").url.endswith("?region=us-west-2")
    (tmp_path / "Pulumi.qa.yaml").write_text("config: {}\n")
    monkeypatch.setattr(pulumi_stack, "PROJECT_DIR", tmp_path)
    with pytest.raises(pulumi_stack.SetupError, match=re.escape("Pulumi.qa.yaml: secretsprovider = None")):
        pulumi_stack.stack_secrets_provider("qa")


@pytest.mark.parametrize("stack", stack_files())
def test_each_stacks_ci_roles_may_use_the_key_its_stack_file_names(stack):
    """The CLI decrypts the stack's data key with the secretsprovider's key on every run, a preview's
    included (pkg/secrets/cloud/manager.go): the preview role needs kms:Decrypt on exactly that key,
    the deploy role Encrypt and GenerateDataKey too (a new stack's key is made by stack init)."""
    from offline.plan import bootstrap_stack_for, config_account, plan_bootstrap

    # The bootstrap of the account the stack deploys into (one per account, docs/adr/0024).
    values = stack_config.load(PROJECT_DIR, stack).values
    bootstrap_plan = plan_bootstrap(stack=bootstrap_stack_for(config_account(values)))
    provider = stack_config.secrets_provider(PROJECT_DIR / f"Pulumi.{stack}.yaml")
    alias, region = re.fullmatch(r"awskms://(alias/[\w/-]+)\?region=([\w-]+)", provider.url).groups()
    plan_region = bootstrap_plan.settings["region"]
    [target] = [a.inputs["targetKeyId"] for a in bootstrap_plan.of_type("aws:kms/alias:Alias")
                if a.inputs["name"] == alias and a.inputs.get("region", plan_region) == region]
    [key] = [k.arn for k in bootstrap_plan.resources if k.type in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey")
             and k.id == target and (k.inputs.get("region") or plan_region) == region]
    for purpose, actions in (("preview", {"kms:Decrypt"}), ("deploy", {"kms:Decrypt", "kms:Encrypt",
                                                                       "kms:GenerateDataKey"})):
        policy = next(r for r in bootstrap_plan.of_type("aws:iam/rolePolicy:RolePolicy")
                      if r.name == f"ecomind-{stack}-{purpose}-state")
        granted = {a for st in yaml.safe_load(policy.inputs["policy"])["Statement"]
                   if key in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
                   for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
        assert actions <= granted, (stack, purpose, key)


def test_the_driver_refuses_an_existing_stack_whose_data_key_was_never_committed():
    """With encryptedkey empty the CLI makes a new data key each run (kms:Encrypt, which a preview
    role lacks) and writes the stack file; the state's own key is the line to commit."""
    empty = stack_config.SecretsProvider(url="awskms://alias/k?region=us-east-1", encrypted_key="")
    deployment = {"secrets_providers": {"type": "cloud", "state": {"url": empty.url, "encryptedkey": "AQICAHh0ZXN0"}}}
    why = pulumi_stack.uncommitted_data_key("dev", empty, deployment)
    assert why.startswith("Pulumi.dev.yaml's encryptedkey is empty but the stack's state has its data key: "
                          "commit `encryptedkey: AQICAHh0ZXN0`")
    assert pulumi_stack.uncommitted_data_key("dev", empty, None) is None  # a new stack: stack init writes it
    committed = stack_config.SecretsProvider(url=empty.url, encrypted_key="AQICAHh0ZXN0")
    assert pulumi_stack.uncommitted_data_key("dev", committed, deployment) is None


# --- the workflows: install, then credentials ---------------------------------------------------

def test_every_job_that_takes_credentials_installs_both_virtualenvs_first_and_sets_no_secrets_provider():
    checked = 0
    for _, name, job in jobs():
        steps = job.get("steps", [])
        credentials = [i for i, s in enumerate(steps) if "configure-aws-credentials" in s.get("uses", "")]
        if not credentials:
            continue
        installs = [i for i, s in enumerate(steps) if re.search(r"\bmake install\b", s.get("run", ""))]
        assert installs and installs[0] < credentials[0], name
        assert not any("PULUMI_SECRETS_PROVIDER" in (s.get("env") or {}) for s in steps), name
        checked += 1
    assert checked >= 4


def test_the_runbook_never_needs_a_passphrase_for_a_platform_stack():
    """Only the bootstrap's own first stack, local before its bucket exists, uses a passphrase."""
    runbook = (PROJECT_DIR / "docs" / "DEPLOYMENT.md").read_text()
    runbook = runbook[runbook.index("## 2. Create a stack"):]
    assert "make install" in runbook and "--secrets-provider" in runbook
    assert "PULUMI_SECRETS_PROVIDER" not in runbook and "PULUMI_CONFIG_PASSPHRASE" not in runbook
    assert Path(PROJECT_DIR / "README.md").read_text().count("PULUMI_SECRETS_PROVIDER") == 0


def test_a_driver_run_on_a_stack_whose_state_has_the_uncommitted_data_key_stops_naming_the_line(tmp_path):
    from tests.driving import drive

    result, calls = drive(tmp_path, "refresh", "--stack", "dev", scenario="data-key-in-state")
    assert result.returncode == pulumi_stack.EXIT_ENVIRONMENT, result.stderr
    assert "commit `encryptedkey: AQICAHhkYXRha2V5` to the stack file" in result.stderr
    assert not any(c.get("args", [])[1:2] == ["refresh"] for c in calls)


@pytest.mark.parametrize("stack", stack_files())
def test_the_explicit_aws_provider_has_every_aws_setting_the_stack_file_gives_the_default_one(stack):
    """An explicit provider ignores aws:* stack settings: any the stack files set must reach it too
    (__main__.py makes it from aws:region and aws:allowedAccountIds)."""
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert {key for key in config if key.startswith("aws:")} <= {"aws:region", "aws:allowedAccountIds"}
