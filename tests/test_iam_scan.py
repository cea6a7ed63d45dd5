"""cloudsplaining over every IAM identity policy the stacks and the bootstrap write.

Runs offline in its own virtualenv (.venv-iam, requirements-iam.txt). Each finding must be
waived, with its reason, in policies/iam-waivers.yaml; a waiver that matches nothing fails too.
Permissions boundaries are not scanned as grants: they cap the roles' own policies and have
their own test (tests/test_bootstrap.py). AWS managed policies (PowerUserAccess,
ReadOnlyAccess, the EKS ones) have no text offline and are not scanned.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from offline.plan import plan_bootstrap
from tests.conftest import PROJECT_DIR, planned

IAM_VENV = Path(os.environ.get("ECOMIND_IAM_VENV", PROJECT_DIR / ".venv-iam"))
POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
WAIVERS = yaml.safe_load((PROJECT_DIR / "policies" / "iam-waivers.yaml").read_text())


def documents() -> list[dict]:
    plans = {"dev": planned("dev"), "prod": planned("prod"),
             "prod-timescaledb": planned("prod", ("databaseEngine=timescaledb",)),
             # The bootstrap program itself with its stack file, as `make plan PROJECT=bootstrap` runs it.
             "bootstrap": plan_bootstrap()}
    found = []
    for label, plan in plans.items():
        for resource in plan.resources:
            if resource.type in POLICY_TYPES and not resource.name.endswith("-boundary"):
                found.append({"plan": label, "name": resource.name, "policy": json.loads(resource.inputs["policy"])})
    return found


# Resource policies whose actions are checked too (a Deny in a bucket or key policy included).
RESOURCE_POLICY_TYPES = {"aws:s3/bucketPolicy:BucketPolicy": "policy", "aws:kms/key:Key": "policy",
                         "aws:sns/topicPolicy:TopicPolicy": "policy", "aws:iam/role:Role": "assumeRolePolicy"}


def scan(docs: list[dict], *flags: str) -> dict:
    python = IAM_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"cloudsplaining is not installed in {IAM_VENV}: run `make test`")
    result = subprocess.run([str(python), str(PROJECT_DIR / "tools" / "iam_scan.py"), *flags],
                            input=json.dumps(docs), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@functools.cache
def report() -> dict:
    docs = documents()
    return {"documents": docs, **scan(docs)}


def test_every_identity_policy_is_scanned():
    docs = report()["documents"]
    assert report()["scanned"] == len(docs) >= 35
    assert {d["plan"] for d in docs} == {"dev", "prod", "prod-timescaledb", "bootstrap"}
    assert any(d["name"].endswith("-deploy-iam") for d in docs), "the deploy roles' IAM policies"


def test_every_finding_is_waived_with_a_reason_and_every_waiver_is_used():
    waived = {(w["policy"], w["risk"]) for w in WAIVERS}
    assert all(len(w["reason"]) > 40 for w in WAIVERS)
    findings = {(f["name"], f["risk"]) for f in report()["findings"]}
    assert findings - waived == set(), "findings without a waiver"
    assert waived - findings == set(), "waivers that match no finding"


def test_no_privilege_escalation_anywhere():
    assert [f for f in report()["findings"] if f["risk"] == "PrivilegeEscalation"] == []


def test_the_scanner_flags_a_known_escalation():
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole",
           "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}]}
    result = scan([{"plan": "fixture", "name": "bad", "policy": bad}])
    assert any(f["risk"] == "PrivilegeEscalation" for f in result["findings"])


def every_policy() -> list[dict]:
    """Identity policies, boundaries and resource policies of every plan the scan reads."""
    found = []
    for label, plan in {"dev": planned("dev"), "prod": planned("prod"), "bootstrap": plan_bootstrap()}.items():
        for resource in plan.resources:
            field = "policy" if resource.type in POLICY_TYPES else RESOURCE_POLICY_TYPES.get(resource.type)
            if field and isinstance(resource.inputs.get(field), str):
                found.append({"plan": label, "name": resource.name, "policy": json.loads(resource.inputs[field])})
    return found


def test_every_action_any_policy_names_exists():
    """A misspelt action is accepted by IAM and does nothing: a Deny that denies nothing."""
    docs = every_policy()
    result = scan(docs, "--actions")
    assert result["checked"] == len(docs) > 100
    assert result["unknown"] == []


def test_the_action_check_finds_a_misspelt_one():
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["cloudtrail:StopLoging",
           "s3:GetObject*", "guardduty:Delete*"], "Resource": "*"}]}
    assert [u["action"] for u in scan([{"plan": "fixture", "name": "bad", "policy": bad}], "--actions")["unknown"]] \
        == ["cloudtrail:StopLoging"]
