"""WAF web ACLs in front of the public entry points, and no plain-HTTP listener on the internet."""

from __future__ import annotations

from components.firewall import MANAGED_RULE_GROUPS
from tests.conftest import planned

ACL = "aws:wafv2/webAcl:WebAcl"
RELEASE = "kubernetes:helm.sh/v3:Release"


def groups(acl) -> list[str]:
    return [r["statement"]["managedRuleGroupStatement"]["name"] for r in acl.inputs["rules"]]


def test_cloudfront_is_behind_a_cloudfront_scope_acl_in_us_east_1(stack_plan):
    acl = stack_plan.one(ACL, "cdn-firewall-acl")
    assert acl.inputs["scope"] == "CLOUDFRONT" and acl.inputs["region"] == "us-east-1"
    distribution = stack_plan.one("aws:cloudfront/distribution:Distribution")
    assert distribution.inputs["webAclId"] == acl.arn
    assert acl.urn in distribution.property_dependencies["webAclId"]


def test_the_acls_run_the_managed_rule_groups_including_the_log4j_inputs(stack_plan):
    for acl in stack_plan.of_type(ACL):
        assert groups(acl) == list(MANAGED_RULE_GROUPS)
        assert "AWSManagedRulesKnownBadInputsRuleSet" in groups(acl)
        assert acl.inputs["defaultAction"] == {"allow": {}}
        for rule in acl.inputs["rules"]:
            assert rule["overrideAction"] == {"none": {}}, "the groups' own block actions apply"
            assert rule["visibilityConfig"]["cloudwatchMetricsEnabled"] is True


def test_each_acl_logs_to_an_encrypted_aws_waf_logs_group_in_its_region(stack_plan):
    for acl in stack_plan.of_type(ACL):
        prefix = acl.name.removesuffix("-acl")
        logging = stack_plan.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", f"{prefix}-logging")
        group = stack_plan.one("aws:cloudwatch/logGroup:LogGroup", f"{prefix}-logs")
        assert logging.inputs["logDestinationConfigs"] == [group.arn] and logging.inputs["resourceArn"] == acl.arn
        assert group.inputs["name"].startswith("aws-waf-logs-"), "WAF accepts no other log group name"
        assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
        assert group.inputs.get("region") == acl.inputs.get("region"), "the logs live where the ACL does"


def test_prod_puts_its_internet_facing_alb_behind_a_regional_acl():
    prod = planned("prod")
    acl = prod.one(ACL, "app-firewall-acl")
    assert acl.inputs["scope"] == "REGIONAL" and "region" not in acl.inputs
    alb = prod.one("aws:lb/loadBalancer:LoadBalancer", "web-alb")
    assert alb.inputs["internal"] is False
    association = prod.one("aws:wafv2/webAclAssociation:WebAclAssociation", "web-waf")
    assert association.inputs["webAclArn"] == acl.arn and association.inputs["resourceArn"] == alb.arn
    # Ingest batches exceed the common rule set's 8 KB body limit: counted, not blocked, at the ALB.
    [common] = [r for r in acl.inputs["rules"] if r["name"] == "AWSManagedRulesCommonRuleSet"]
    overrides = common["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert overrides == [{"actionToUse": {"count": {}}, "name": "SizeRestrictions_BODY"}]
    [cdn_common] = [r for r in prod.one(ACL, "cdn-firewall-acl").inputs["rules"]
                    if r["name"] == "AWSManagedRulesCommonRuleSet"]
    assert "ruleActionOverrides" not in cdn_common["statement"]["managedRuleGroupStatement"]


def test_without_a_certificate_the_alb_is_internal_in_the_subnets_that_hold_no_pod():
    dev = planned("dev")
    assert [a.name for a in dev.of_type(ACL)] == ["cdn-firewall-acl"], "no public ALB, no ALB ACL"
    values = dev.one(RELEASE, "ecomind-release").inputs["values"]
    alb = dev.one("aws:lb/loadBalancer:LoadBalancer", "web-alb").inputs
    assert alb["internal"] is True and not dev.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert not dev.of_type("aws:acm/certificate:Certificate")
    subnets = {kind: [s for s in dev.of_type("aws:ec2/subnet:Subnet") if f"-{kind}-" in s.name]
               for kind in ("private", "public")}
    # In the private subnets the ALB's CIDRs would be every pod's too, and the NetworkPolicies that
    # admit them would admit any pod in the cluster.
    assert sorted(alb["subnets"]) == sorted(s.id for s in subnets["public"]) and subnets["private"]
    # The NetworkPolicies admit the subnets the ALB's nodes are in, and no others.
    assert sorted(values["network"]["loadBalancerCidrs"]) == sorted(s.inputs["cidrBlock"] for s in subnets["public"])


def test_waf_logs_keep_no_credentials(stack_plan):
    """Authorization and Cookie headers are redacted from every web ACL's logs (lower-case, as the
    WAF API takes single headers)."""
    configs = stack_plan.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert configs
    for config in configs:
        headers = {f["singleHeader"]["name"] for f in config.inputs["redactedFields"]}
        assert headers == {"authorization", "cookie"}
