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
from components.args import check_arn, check_tags, refuse
from components.irsa import OidcProvider, irsa_role_for
from components.storage import EXPORTS_PREFIX, REPORTS_PREFIX
from components.streaming import CONSUMER_GROUP

APP_NAMESPACE = "ecomind"
RAW_TOPIC, ENRICHED_TOPIC = "events.raw", "events.enriched"


# The services that use the database (ecomind-app.md): the gateway does not.
DATABASE_CLIENTS = ("api", "worker")


def service_account(service: str) -> str:
    """The Kubernetes service account each EcoMind workload runs as (the chart uses the same)."""
    return f"ecomind-{service}"


@dataclasses.dataclass(frozen=True)
class ApplicationAccessArgs:
    oidc: OidcProvider
    """The cluster's OIDC provider (`Cluster.oidc`), which every role's trust policy names."""
    kafka_cluster_arn: pulumi.Input[str]
    """MSK cluster ARN (`Streaming.cluster_arn`); the gateway's and worker's topic and group ARNs
    derive from it."""
    reports_bucket_arn: pulumi.Input[str]
    """Reports bucket ARN (`Storage.reports.bucket_arn`): the api reads and writes under reports/,
    the worker under exports/."""
    reports_key_arn: pulumi.Input[str]
    """CMK of the reports bucket (`Storage.reports_key_arn`), which both roles may use for it."""
    tags: Mapping[str, str]
    """Stack tags (`StackSettings.tags`), applied to every role."""
    database_connect_arn: pulumi.Input[str] | None = None
    """RDS: the `rds-db:connect` ARN of the services' database role (`DatabaseEndpoint.connect_arn`),
    which the api and worker may log in as; None when the engine has no IAM authentication."""

    def __post_init__(self) -> None:
        if not isinstance(self.oidc, OidcProvider):
            refuse(self, "oidc", "expected an OidcProvider (Cluster.oidc)")
        # Topic and group ARNs are made by rewriting ':cluster/' in this ARN (kafka_resource_arn).
        check_arn(self, "kafka_cluster_arn", "kafka", "arn:aws:kafka:us-east-1:111122223333:cluster/<name>/<uuid>",
                  resource=r"[a-z0-9-]+:\d{12}:cluster/\S+")
        check_arn(self, "reports_bucket_arn", "s3", "arn:aws:s3:::ecomind-reports")
        check_arn(self, "reports_key_arn", "kms", "arn:aws:kms:us-east-1:111122223333:key/<id>")
        check_tags(self)


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
        if args.database_connect_arn is not None:
            for service in DATABASE_CLIENTS:
                grants[service]["database"] = docs.database_connect_policy(args.database_connect_arn)
        self.role_arns = {
            service: irsa_role_for(f"{name}-{service}", args.oidc, APP_NAMESPACE, service_account(service),
                                   tags=args.tags, inline_policies=policies, opts=child).role_arn
            for service, policies in grants.items()
        }
        self.register_outputs({"role_arns": self.role_arns})
