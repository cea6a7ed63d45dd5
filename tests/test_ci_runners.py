"""GitHub Actions runners inside the VPC: reach the EKS API, nothing more (docs/adr/0009)."""

from __future__ import annotations

import yaml

from offline.mocks import resource_id_for
from tests.conftest import PROJECT_DIR, account, as_list, policy, statements


def test_runner_project_serves_workflow_jobs_from_the_private_subnets(stack_plan):
    project = stack_plan.one("aws:codebuild/project:Project").inputs
    assert project["name"] == f"ecomind-infra-{stack_plan.stack}-ci"
    private = sorted(resource_id_for(s.type, s.name) for s in stack_plan.of_type("aws:ec2/subnet:Subnet")
                     if s.inputs["tags"]["tier"] == "private")
    assert sorted(project["vpcConfig"]["subnets"]) == private
    assert project["source"]["auth"]["type"] == "CODECONNECTIONS"
    assert project["environment"]["privilegedMode"] is False
    [group] = stack_plan.one("aws:codebuild/webhook:Webhook").inputs["filterGroups"]
    workflows = "deploy|drift" if stack_plan.stack == "prod" else "deploy|drift|pull-request"
    assert group["filters"] == [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"},
                                {"type": "WORKFLOW_NAME", "pattern": f"^({workflows})$"}]


def test_runners_send_only_https_and_the_cluster_admits_them_on_443(stack_plan):
    [egress] = [r for r in stack_plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
                if r.name.startswith("ci-")]
    assert (egress.inputs["fromPort"], egress.inputs["toPort"], egress.inputs["ipProtocol"]) == (443, 443, "tcp")
    ingress = stack_plan.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ci-to-eks-api").inputs
    assert ingress["securityGroupId"] == stack_plan.outputs["clusterSecurityGroupId"]
    assert ingress["referencedSecurityGroupId"] == resource_id_for("aws:ec2/securityGroup:SecurityGroup", "ci-sg")
    assert ingress["fromPort"] == ingress["toPort"] == 443


def test_runner_role_has_no_deployment_rights(stack_plan):
    document = policy(stack_plan.one("aws:iam/rolePolicy:RolePolicy", "ci-role"), "policy")
    actions = {a for s in statements(document) for a in as_list(s["Action"])}
    assert {a.split(":")[0] for a in actions} == {"logs", "ec2", "codeconnections"}
    attach = next(s for s in statements(document) if s["Action"] == "ec2:CreateNetworkInterfacePermission")
    assert len(attach["Condition"]["ArnEquals"]["ec2:Subnet"]) == len(stack_plan.outputs["privateSubnetIds"])
    attachments = [a for a in stack_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if a.name.startswith("ci-")]
    assert attachments == []


def test_workflow_jobs_target_this_stack_runner_project():
    text = (PROJECT_DIR / ".github" / "workflows" / "deploy.yml").read_text()
    jobs = yaml.safe_load(text)["jobs"]
    assert jobs["up-dev"]["runs-on"].startswith("codebuild-ecomind-infra-dev-ci-")
    assert jobs["up-prod"]["runs-on"].startswith("codebuild-ecomind-infra-prod-ci-")


def test_the_runner_role_trusts_codebuild_only_for_its_own_project(stack_plan):
    import json

    [trust] = json.loads(stack_plan.one("aws:iam/role:Role", "ci-role").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn":
            f"arn:aws:codebuild:us-east-1:{account(stack_plan.stack)}:project/ecomind-infra-{stack_plan.stack}-ci"}


def test_each_runner_takes_jobs_of_exactly_the_workflows_that_target_it(stack_plan):
    """The webhook's workflow names are the `name:` of the workflows whose jobs run on this
    stack's runners (their runs-on label), so none is left out and none is let in."""
    targeting = set()
    for path in (PROJECT_DIR / ".github" / "workflows").glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        labels = [job.get("runs-on", "") for job in workflow["jobs"].values()]
        if any(f"ecomind-infra-{stack_plan.stack}-ci-" in label or "${{ matrix.stack }}-ci-" in label
               for label in labels):
            targeting.add(workflow["name"])
    [group] = stack_plan.one("aws:codebuild/webhook:Webhook").inputs["filterGroups"]
    [names] = [f["pattern"] for f in group["filters"] if f["type"] == "WORKFLOW_NAME"]
    assert names == "^(" + "|".join(sorted(targeting)) + ")$"
