"""Who may delete or disable a KMS key: the stack's deploy role in dev (so `pulumi destroy`
works), nobody in prod, nobody for the bootstrap's state and secrets keys."""

from __future__ import annotations

import json

from tests.test_bootstrap import delivery
from tests.test_bootstrap import plan as bootstrap_plan  # noqa: F401 (fixture)


def key_policies(plan):
    for resource in (plan.of_type("aws:kms/key:Key") + plan.of_type("aws:kms/keyPolicy:KeyPolicy")
                     + plan.of_type("aws:kms/replicaKey:ReplicaKey")):
        if "policy" in resource.inputs:
            yield resource, json.loads(resource.inputs["policy"])


def guards(document):
    return [s for s in document["Statement"] if s["Effect"] == "Deny" and "kms:ScheduleKeyDeletion" in s["Action"]]


def test_every_stack_key_denies_destruction_but_to_dev_s_deploy_role(stack_plan):
    policies = list(key_policies(stack_plan))
    assert len(policies) >= 10
    for resource, document in policies:
        [guard] = guards(document)
        assert guard["Principal"] == {"AWS": "*"} and set(guard["Action"]) == {"kms:ScheduleKeyDeletion",
                                                                               "kms:DisableKey"}
        if stack_plan.stack == "prod":
            assert "Condition" not in guard, resource.name
        else:
            # The name components/naming.py derives is the one the bootstrap gives the role.
            assert guard["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [
                f"arn:aws:iam::111122223333:role/{delivery.deploy_role_name('dev')}"]}}, resource.name


def test_nobody_destroys_the_bootstrap_keys(bootstrap_plan):  # noqa: F811
    policies = list(key_policies(bootstrap_plan))
    # state, secrets provider, its multi-Region successor and that one's replica in drRegion, the
    # state copy's, the image copies', CloudTrail, security alerts
    assert len(policies) == 8
    for _, document in policies:
        [guard] = guards(document)
        assert guard["Principal"] == {"AWS": "*"} and "Condition" not in guard
