"""AWS access for EcoMind's pods: one IRSA role per service account, each allowed what the
service uses (../shared/ecomind-app.md) on exact ARNs, and nothing else.

Secrets are not here: External Secrets reads them with its own role and hands pods plain
Kubernetes secrets, so no application role can read Secrets Manager.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pulumi

from components import policy_documents as docs
from components.irsa import OidcProvider, irsa_role_for
from components.storage import EXPORTS_PREFIX, REPORTS_PREFIX
from components.streaming import CONSUMER_GROUP

APP_NAMESPACE = "ecomind"
RAW_TOPIC, ENRICHED_TOPIC = "events.raw", "events.enriched"


def service_account(service: str) -> str:
    """The Kubernetes service account each EcoMind workload runs as (the chart uses the same)."""
    return f"ecomind-{service}"


@dataclasses.dataclass(frozen=True)
class ApplicationAccessArgs:
    oidc: OidcProvider
    kafka_cluster_arn: pulumi.Input[str]
    reports_bucket_arn: pulumi.Input[str]
    reports_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class ApplicationAccess(pulumi.ComponentResource):
    """IRSA roles for the gateway, api and worker service accounts (the ui needs none)."""

    role_arns: dict[str, pulumi.Output[str]]
    """Role ARN per service, for the service account's eks.amazonaws.com/role-arn annotation."""

    def __init__(self, name: str, args: ApplicationAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:iam:ApplicationAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        grants = {
            # The gateway produces raw usage events.
            "gateway": {"kafka": docs.kafka_client_policy(args.kafka_cluster_arn, produce=[RAW_TOPIC])},
            # The api reads and writes reports.
            "api": {"reports": docs.bucket_prefix_policy(args.reports_bucket_arn, args.reports_key_arn,
                                                         [REPORTS_PREFIX])},
            # The worker consumes raw events as its group, produces enriched ones, writes exports.
            "worker": {
                "kafka": docs.kafka_client_policy(args.kafka_cluster_arn, produce=[ENRICHED_TOPIC],
                                                  consume=[RAW_TOPIC], group=CONSUMER_GROUP),
                "exports": docs.bucket_prefix_policy(args.reports_bucket_arn, args.reports_key_arn,
                                                     [EXPORTS_PREFIX]),
            },
        }
        self.role_arns = {
            service: irsa_role_for(f"{name}-{service}", args.oidc, APP_NAMESPACE, service_account(service),
                                   tags=args.tags, inline_policies=policies, opts=child).role_arn
            for service, policies in grants.items()
        }
        self.register_outputs({"role_arns": self.role_arns})
