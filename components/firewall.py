"""A WAF web ACL for a public entry point: CloudFront (the UI's assets) or the ALB (the application).

AWS managed rule groups only, each counted as one rule in WAF's price (AWS WAF developer guide,
"AWS Managed Rules rule groups list"):
- AWSManagedRulesAmazonIpReputationList: sources Amazon threat intelligence lists;
- AWSManagedRulesCommonRuleSet: the OWASP-style core set;
- AWSManagedRulesKnownBadInputsRuleSet: request patterns of known exploits, Log4j's JNDI lookups
  (CVE-2021-44228) among them.

Requests that match no rule are allowed. Every rule and the ACL publish CloudWatch metrics and
sampled requests. Full logs go to an encrypted `aws-waf-logs-` log group in the ACL's region: WAF
accepts only that name prefix for a log group destination (WAF developer guide, "CloudWatch Logs").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.args import check_account_id, check_log_retention, check_region, check_tags, refuse
from components.guards import key_with_log_groups
from components.naming import stack_scoped

# A CloudFront-scope ACL, its logs and their key live in us-east-1 (WAF developer guide, "Using
# AWS WAF with Amazon CloudFront").
CLOUDFRONT_REGION = "us-east-1"
SCOPES = ("CLOUDFRONT", "REGIONAL")
# Headers that carry credentials: the api's bearer tokens, the ui's session cookies.
REDACTED_HEADERS = ("authorization", "cookie")
MANAGED_RULE_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet",
                       "AWSManagedRulesKnownBadInputsRuleSet")
# Rules of the common rule set that the application's own traffic trips.
# SizeRestrictions_BODY blocks bodies over 8 KB, and the gateway's ingest batches are larger.
COMMON_RULES_COUNTED = {"REGIONAL": ("SizeRestrictions_BODY",), "CLOUDFRONT": ()}


@dataclasses.dataclass(frozen=True)
class WebFirewallArgs:
    scope: str
    """CLOUDFRONT (for a distribution) or REGIONAL (for an ALB)."""
    region: str
    """The stack's region; a CLOUDFRONT ACL goes to us-east-1 whatever it is."""
    account_id: pulumi.Input[str]
    """AWS account the log key's policy is scoped to."""
    log_retention_days: int
    """Days the ACL's logs are kept (the stack's logRetentionDays)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the ACL, its log group and key."""
    protect: bool = False
    """Pulumi `protect` on the log key (on in prod)."""

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            refuse(self, "scope", f"expected one of {', '.join(SCOPES)}")
        check_log_retention(self, "log_retention_days")
        check_region(self)
        check_account_id(self)
        check_tags(self)

    @property
    def acl_region(self) -> str:
        return CLOUDFRONT_REGION if self.scope == "CLOUDFRONT" else self.region


def _visibility(metric: str, kind: type = aws.wafv2.WebAclVisibilityConfigArgs):
    return kind(cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)


def managed_rules(counted: Sequence[str]) -> list[aws.wafv2.WebAclRuleArgs]:
    override = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs
    use = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs
    count = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs
    rules = []
    for priority, group in enumerate(MANAGED_RULE_GROUPS):
        overrides = [override(name=rule, action_to_use=use(count=count()))
                     for rule in (counted if group == "AWSManagedRulesCommonRuleSet" else ())]
        rules.append(aws.wafv2.WebAclRuleArgs(
            name=group, priority=priority,
            override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    vendor_name="AWS", name=group, rule_action_overrides=overrides or None)),
            visibility_config=_visibility(group, aws.wafv2.WebAclRuleVisibilityConfigArgs)))
    return rules


class WebFirewall(pulumi.ComponentResource):
    """A web ACL of AWS managed rule groups, with metrics and encrypted logs."""

    web_acl_arn: pulumi.Output[str]
    """ARN of the ACL: a distribution's `web_acl_id`, or an ALB Ingress's wafv2-acl-arn annotation."""

    def __init__(self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:edge:WebFirewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        acl_name = stack_scoped(name)
        region = args.acl_region
        _, [logs] = key_with_log_groups(
            f"{name}-logs", description=f"Encrypts the {acl_name} web ACL's logs",
            log_groups={f"{name}-logs": f"aws-waf-logs-{acl_name}"}, retention_days=args.log_retention_days,
            account_id=args.account_id, region=region, tags=args.tags, protect=args.protect, parent=self,
            in_region=args.scope == "CLOUDFRONT")
        acl = aws.wafv2.WebAcl(
            f"{name}-acl", name=acl_name, scope=args.scope, description=f"Managed rule groups in front of {name}",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=managed_rules(COMMON_RULES_COUNTED[args.scope]),
            visibility_config=_visibility(acl_name),
            region=region if args.scope == "CLOUDFRONT" else None,
            tags={**args.tags, "Name": acl_name}, opts=child)
        # Bearer tokens and session cookies stay out of the logs (review L): WAF replaces a redacted
        # header's value with REDACTED (WAF developer guide, "Log fields": redactedFields; the API
        # takes single headers by lower-case name: LoggingConfiguration.RedactedFields).
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging", resource_arn=acl.arn, log_destination_configs=[logs.arn],
            redacted_fields=[aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header))
                for header in REDACTED_HEADERS],
            region=region if args.scope == "CLOUDFRONT" else None, opts=child)
        self.web_acl_arn = acl.arn
        self.register_outputs({"web_acl_arn": self.web_acl_arn})
