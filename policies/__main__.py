"""The policy pack. Constructing PolicyPack starts the analyzer server, so this file only does
that; the rules live in ecomind_rules.py, which tests and the offline plan import."""

import ecomind_rules
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="ecomind-guardrails",
    description=("EcoMind's security, reliability and cost rules for EKS, RDS, MSK, ElastiCache, S3, "
                 "CloudFront, KMS and IAM"),
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ecomind_rules.to_pulumi_policies(),
)
