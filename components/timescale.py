"""PostgreSQL with TimescaleDB on the EKS cluster, run by CloudNativePG: the in-cluster engine
behind the same `DatabaseEndpoint` as RDS (docs/adr/0010-timescaledb-on-eks.md).

The component is built in two steps. Construction makes what lives in AWS (backup bucket and
its key, the backup role, the credentials secret), so the secret's ARN can be handed to the
External Secrets controller before the cluster services exist. `install` then puts the
operator and the database on the cluster, through the cluster services' provider.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import policy_documents as docs
from components.args import (
    DNS_LABEL,
    StepError,
    check_account_id,
    check_count,
    check_name,
    check_tags,
    is_plain,
    refuse,
)
from components.bucket import SecureBucket, SecureBucketArgs
from components.cluster_services import SYSTEM_PLACEMENT, chart_release
from components.database import DATABASE_NAME, MASTER_USERNAME, POSTGRES_PORT, SLOW_STATEMENT_MS, DatabaseEndpoint
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.irsa import OidcProvider, irsa_role_for
from components.naming import stack_prefix
from components.region_copies import CopyRegion, replicate_bucket
from components.secrets import GENERATED_SECRET_LENGTH, rotation_tag, store_secret
from node_room import BACKUP_SIDECAR
from settings import TimescaleSettings

# Charts, pinned, each to the newest release in its repository's published index; the renovate.json
# custom managers move them. The Barman Cloud plugin replaces the operator's in-tree object-store
# backups, which CloudNativePG 1.31 removes; it talks to the operator over mutual TLS with
# certificates from cert-manager (the plugin chart's README requires cert-manager).
# renovate: datasource=helm depName=cloudnative-pg registryUrl=https://cloudnative-pg.github.io/charts
# seen: cloudnative-pg/charts index.yaml and charts/cloudnative-pg/Chart.yaml at d1b5ad6 (2026-06-29), operator 1.30.0.
OPERATOR = {"chart": "cloudnative-pg", "version": "0.29.0", "repo": "https://cloudnative-pg.github.io/charts"}
# renovate: datasource=helm depName=plugin-barman-cloud registryUrl=https://cloudnative-pg.github.io/charts
# seen: cloudnative-pg/charts charts/plugin-barman-cloud/Chart.yaml at 83bd9c5 (2026-06-10), plugin v0.13.0.
BACKUP_PLUGIN = {"chart": "plugin-barman-cloud", "version": "0.7.0", "repo": "https://cloudnative-pg.github.io/charts"}
# renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
# seen: cert-manager/cert-manager tag v1.21.1 (24e3319, 2026-07-29), newest v1 tag.
CERT_MANAGER = {"chart": "cert-manager", "version": "v1.21.1", "repo": "https://charts.jetstack.io"}

NAMESPACE = "ecomind-db"
OPERATOR_NAMESPACE = "cnpg-system"
APPLICATION_NAMESPACE = "ecomind"
PLUGIN = "barman-cloud.cloudnative-pg.io"
STORAGE_CLASS = "ecomind-db-gp3"
IMAGE_CATALOG = "timescaledb"
# A base backup every day (TimescaleDatabaseArgs.backup_hour_utc: 03:00 UTC, the RDS engine's
# window, or the working day's in a stack stopped at night). WAL is archived continuously in between.
# TimescaleDB's image runs PostgreSQL as uid/gid 1000, not CloudNativePG's default 26.
IMAGE_UID = 1000
# Pulumi waits for the operator to report the cluster Ready before the application release
# (and its migration hook) runs; three instances with a base backup take 5-15 minutes.
READY_TIMEOUT_SECONDS = 1800
OPERATOR_PORT = 8000  # the instance manager's status endpoint, which the operator polls
# Secrets Manager CreateSecret, Name: up to 512 of these characters.
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


@dataclasses.dataclass(frozen=True)
class TimescaleDatabaseArgs:
    settings: TimescaleSettings
    """The in-cluster engine's settings: cluster name, instances, CPU and memory, volume sizes in GiB,
    backup retention in days, an optional recovery source."""
    oidc: OidcProvider
    """The cluster's OIDC provider (`Cluster.oidc`), trusted by the instances' backup role."""
    account_id: pulumi.Input[str]
    """AWS account the backup key's policy is scoped to."""
    cluster_security_group_id: pulumi.Input[str]
    """The pods run on the cluster's nodes, behind the cluster security group."""
    volume_key_arn: pulumi.Input[str]
    """The stack's EBS key (the EBS CSI driver's role may already use it) for the volumes."""
    secrets_key_arn: pulumi.Input[str]
    """CMK of the owner credentials secret (`ApplicationSecrets.key_arn`)."""
    secret_name: str
    """Secrets Manager name of the owner credentials, under the stack's secret prefix."""
    access_log_bucket: pulumi.Input[str]
    """Bucket receiving the backup bucket's server access logs (`Storage.logs.bucket_name`)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the backup key, bucket and role and the credentials secret."""
    protect: bool = False
    """Prod: `protect` on the key, bucket, secret, StorageClass and database Cluster object, and volumes
    kept (Retain) when their claims go; the default (dev) deletes volumes with their claims."""
    copies: CopyRegion | None = None
    """Replicate the WAL and base backups, Object Lock kept, and the owner secret to this region
    (setting drRegion): a recovery there restores from the copy; None: no copies."""
    region: str = "us-east-1"
    """Region of the stack (the source side of the backups' replication)."""
    backup_hour_utc: int = 3
    """Hour (UTC) of the daily base backup: 03:00 by default, the RDS engine's window; a stack stopped
    at night (officeHours) takes its working day's backup window, since nothing runs at 03:00 there."""

    def __post_init__(self) -> None:
        t = self.settings
        # The name is a Kubernetes object name and the backup folder and service account derive from it.
        check_name(self, "settings.cluster_name", DNS_LABEL,
                   "expected a lower-case DNS label (Kubernetes object names), such as ecomind-db")
        check_count(self, "settings.instances", unit="instance")
        if t.recover_from is not None and t.recover_from == t.cluster_name:
            refuse(self, "settings.recover_from", "expected another cluster's name: the recovered cluster archives "
                   "under its own name, so the source's backups stay untouched")
        if not isinstance(self.oidc, OidcProvider):
            refuse(self, "oidc", "expected an OidcProvider (Cluster.oidc)")
        check_account_id(self)
        check_name(self, "secret_name", SECRET_NAME, "expected a Secrets Manager name of letters, digits and "
                   "/_+=.@-, such as ecomind/prod/database-owner")
        if is_plain(self.access_log_bucket) and not self.access_log_bucket:
            refuse(self, "access_log_bucket", "expected a bucket name (or an Output resolving to one)")
        check_tags(self)


def owner_secret_name(cluster: str) -> str:
    return f"{cluster}-owner"


def object_store_name(cluster: str) -> str:
    return f"{cluster}-backups"


def image_catalog(t: TimescaleSettings) -> dict[str, Any]:
    return {"images": [{"major": t.postgres_major, "image": t.image}]}


def object_store(t: TimescaleSettings, bucket: str) -> dict[str, Any]:
    """Where base backups and WAL go. No `encryption` field on purpose: barman's aws:kms would use
    the AWS-managed S3 key; left out, S3 applies the bucket's default, the stack's CMK."""
    return {
        "retentionPolicy": f"{t.backup_retention_days}d",
        "configuration": {
            "destinationPath": f"s3://{bucket}/",
            "s3Credentials": {"inheritFromIAMRole": True},
            "wal": {"compression": "gzip", "maxParallel": 4},
            "data": {"compression": "gzip", "jobs": 2},
        },
        # The sidecar the plugin injects into every instance pod asks this much (node_room.py, which
        # the settings and the plan's packing count it by).
        "instanceSidecarConfiguration": {"resources": {
            "requests": {"cpu": f"{BACKUP_SIDECAR.cpu:.0f}m", "memory": f"{BACKUP_SIDECAR.memory:.0f}Mi"},
            "limits": {"memory": f"{2 * BACKUP_SIDECAR.memory:.0f}Mi"}}},
    }


def synchronous_replication(instances: int) -> dict[str, Any] | None:
    """Every commit waits for one standby: with three instances a committed transaction is on two
    of them, so losing any one (the primary included) loses nothing, and writes go on while one
    standby is down. Two instances can only prefer it, or a standby's loss would stop writes."""
    if instances < 2:
        return None
    return {"method": "any", "number": 1, "dataDurability": "required" if instances >= 3 else "preferred"}


MAX_CONNECTIONS = 300


def cluster_spec(t: TimescaleSettings, role_arn: str) -> dict[str, Any]:
    """The CloudNativePG Cluster: placement, resources, TLS-only access, replication, backups and
    how it starts (an empty database, or a point-in-time recovery of an earlier cluster)."""
    memory = f"{t.memory_gib}Gi"
    resources = {"cpu": f"{t.cpu_millicores}m", "memory": memory}
    taint = t.node_taint
    postgresql: dict[str, Any] = {
        "shared_preload_libraries": ["timescaledb"],
        "parameters": {
            "timescaledb.telemetry_level": "off",
            "log_min_duration_statement": str(SLOW_STATEMENT_MS),
            "log_connections": "on",
            "log_disconnections": "on",
            "ssl_min_protocol_version": "TLSv1.3",
            # A WAL segment is archived at least this often: the recovery point on a quiet day.
            "archive_timeout": "5min",
            # A quarter of memory for shared buffers is PostgreSQL's starting point.
            "shared_buffers": f"{max(128, t.memory_gib * 1024 // 4)}MB",
            # PostgreSQL's default of 100 is below what the api and worker open at their HPA
            # maximum in prod (15 each, SQLAlchemy's pool and overflow; make plan's capacity table).
            "max_connections": str(MAX_CONNECTIONS),
        },
        # Before the operator's catch-all host rule: refuse every connection without TLS.
        "pg_hba": ["hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject"],
    }
    synchronous = synchronous_replication(t.instances)
    if synchronous:
        postgresql["synchronous"] = synchronous
    owner = {"database": DATABASE_NAME, "owner": MASTER_USERNAME, "secret": {"name": owner_secret_name(t.cluster_name)}}
    spec: dict[str, Any] = {
        "instances": t.instances,
        "imageCatalogRef": {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": IMAGE_CATALOG,
                            "major": t.postgres_major},
        "postgresUID": IMAGE_UID,
        "postgresGID": IMAGE_UID,
        "enableSuperuserAccess": False,
        # The operator's PDB keeps the primary up; with one instance no switchover is possible,
        # so a PDB would let no node drain finish (CloudNativePG docs/src/kubernetes_upgrade.md:
        # single-instance clusters must disable it).
        "enablePDB": t.instances > 1,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "storage": {"storageClass": STORAGE_CLASS, "size": f"{t.storage_gib}Gi"},
        "walStorage": {"storageClass": STORAGE_CLASS, "size": f"{t.wal_storage_gib}Gi"},
        "resources": {"requests": resources, "limits": resources},
        "affinity": {
            "enablePodAntiAffinity": True,
            "podAntiAffinityType": "required",
            "topologyKey": "topology.kubernetes.io/zone",
            "nodeSelector": {"ecomind.io/node-group": t.node_group_label},
            "tolerations": [{"key": taint.key, "operator": "Equal", "value": taint.value, "effect": "NoSchedule"}],
        },
        "postgresql": postgresql,
        "serviceAccountTemplate": {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "plugins": [{"name": PLUGIN, "isWALArchiver": True,
                     "parameters": {"barmanObjectName": object_store_name(t.cluster_name)}}],
    }
    if t.recover_from:
        recovery: dict[str, Any] = {"source": t.recover_from, **owner}
        if t.recovery_target_time:
            recovery["recoveryTarget"] = {"targetTime": t.recovery_target_time}
        spec["bootstrap"] = {"recovery": recovery}
        # The old cluster's backups, read through the same object store and role; the new cluster
        # archives under its own name, so the source stays untouched.
        spec["externalClusters"] = [{"name": t.recover_from, "plugin": {"name": PLUGIN, "parameters": {
            "barmanObjectName": object_store_name(t.cluster_name), "serverName": t.recover_from}}}]
    else:
        # The extension needs a superuser to create, so initdb creates it; the migrations'
        # `CREATE EXTENSION IF NOT EXISTS timescaledb` then succeeds as the owner.
        spec["bootstrap"] = {"initdb": {**owner,
                                        "postInitApplicationSQL": ["CREATE EXTENSION IF NOT EXISTS timescaledb"]}}
    return spec


def backup_schedule(hour_utc: int) -> str:
    """CloudNativePG's six-field cron (seconds first) for a daily base backup at `hour_utc`."""
    return f"0 0 {hour_utc} * * *"


def scheduled_backup(t: TimescaleSettings, hour_utc: int = 3) -> dict[str, Any]:
    return {"schedule": backup_schedule(hour_utc), "cluster": {"name": t.cluster_name}, "method": "plugin",
            "pluginConfiguration": {"name": PLUGIN}, "backupOwnerReference": "self", "immediate": True,
            "target": "prefer-standby"}


def storage_class_parameters(key_arn: str) -> dict[str, str]:
    # tagSpecification_N tags every volume the driver makes (aws-ebs-csi-driver docs/tagging.md):
    # how a teardown finds the cluster's volumes (ops/teardown.py volume_tag).
    return {"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn, "csi.storage.k8s.io/fstype": "ext4",
            "tagSpecification_1": f"kubernetes.io/cluster/{stack_prefix()}=owned"}


def owner_credentials(secret_arn: str, store: str, cluster: str) -> dict[str, Any]:
    """The owner's login, from Secrets Manager into the basic-auth secret initdb reads."""
    return {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
        "target": {"name": owner_secret_name(cluster), "creationPolicy": "Owner",
                   "template": {"type": "kubernetes.io/basic-auth",
                                "metadata": {"labels": {"cnpg.io/reload": "true"}}}},
        "data": [{"secretKey": field, "remoteRef": {"key": secret_arn, "property": field}}
                 for field in ("username", "password")],
    }


def network_policy(cluster: str) -> dict[str, Any]:
    """Who may reach the instances: the EcoMind services on 5432; the other instances (streaming
    replication) and the operator on 5432 and the instance manager's port."""
    def namespace(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    ports = [{"protocol": "TCP", "port": POSTGRES_PORT}, {"protocol": "TCP", "port": OPERATOR_PORT}]
    return {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [namespace(APPLICATION_NAMESPACE)], "ports": [ports[0]]},
            {"from": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}}}, namespace(OPERATOR_NAMESPACE)],
             "ports": ports},
        ],
    }


class TimescaleDatabase(pulumi.ComponentResource):
    """CloudNativePG + TimescaleDB: WAL archived and base backups daily to a KMS-encrypted bucket."""

    endpoint: DatabaseEndpoint
    """The same fields the RDS engine exports; the host is the cluster's read-write service."""
    backup_bucket_name: pulumi.Output[str]
    """Bucket holding base backups and WAL, under one folder per cluster name."""
    backup_role_arn: pulumi.Output[str]
    """IRSA role of the instances' service account: that bucket and its key, nothing else."""
    backup_metrics: Mapping[str, str]
    """S3 request-metric filters on the bucket, by what they count: `wal` (archived WAL) and
    `base` (base backups) under this cluster's folder; the alarms watch their PutRequests."""

    def __init__(self, name: str, args: TimescaleDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:data:TimescaleDatabase", name, None, opts)
        self._name, self._args = name, args
        t = args.settings
        child = pulumi.ResourceOptions(parent=self)
        key = EncryptionKey(f"{name}-backups", EncryptionKeyArgs(
            description=f"Encrypts the backups of the {t.cluster_name} database", account_id=args.account_id,
            tags=args.tags, protect=args.protect), opts=child)
        bucket = SecureBucket(f"{name}-backups", SecureBucketArgs(
            purpose="database backups", kms_key_arn=key.key_arn, tags=args.tags,
            access_log_bucket=args.access_log_bucket, protect=args.protect,
            # No backup inside its retention window can be destroyed, not even by the cluster's own
            # role. barman-cloud's retention deletes without a version ID, which leaves delete
            # markers: Object Lock allows that, and the locked versions age out after the window.
            object_lock_days=t.backup_retention_days), opts=child)
        if args.copies:
            replicate_bucket(f"{name}-backups", bucket, source_key_arn=key.key_arn, copies=args.copies,
                             source_region=args.region, purpose="database backups", account_id=args.account_id,
                             tags=args.tags, protect=args.protect, parent=self,
                             object_lock_days=t.backup_retention_days)
        # CloudNativePG names the instances' service account after the cluster.
        role = irsa_role_for(f"{name}-backups", args.oidc, NAMESPACE, t.cluster_name, tags=args.tags,
                             inline_policies={"backups": docs.database_backup_policy(bucket.bucket_arn, key.key_arn)},
                             opts=child)
        password = random.RandomPassword(f"{name}-owner", length=GENERATED_SECRET_LENGTH, special=False, opts=child)
        credentials = pulumi.Output.json_dumps({"username": MASTER_USERNAME, "password": password.result})
        secret_arn = store_secret(f"{name}-owner", args.secret_name, f"Owner login of the {t.cluster_name} database",
                                  credentials, key_arn=args.secrets_key_arn, tags=args.tags, protect=args.protect,
                                  parent=self, rotation=rotation_tag("manual", "docs/DEPLOYMENT.md owner password"),
                                  copies=args.copies)
        self.endpoint = DatabaseEndpoint(
            host=pulumi.Output.from_input(f"{t.cluster_name}-rw.{NAMESPACE}.svc.cluster.local"),
            port=POSTGRES_PORT, database_name=DATABASE_NAME, secret_arn=secret_arn,
            security_group_id=pulumi.Output.from_input(args.cluster_security_group_id), engine="timescaledb")
        self.backup_bucket_name = bucket.bucket_name
        self.backup_role_arn = role.role_arn
        # barman-cloud writes <bucket>/<cluster>/wals/ and <cluster>/base/: counting the uploads
        # under each is how an alarm notices archiving or base backups stopping.
        self.backup_metrics = {kind: f"{t.cluster_name}-{kind}" for kind in ("wal", "base")}
        folders = {"wal": "wals", "base": "base"}
        for kind, filter_name in self.backup_metrics.items():
            aws.s3.BucketMetric(f"{name}-backups-{kind}-uploads", bucket=bucket.bucket_name, name=filter_name,
                                filter=aws.s3.BucketMetricFilterArgs(prefix=f"{t.cluster_name}/{folders[kind]}/"),
                                opts=child)
        self._ready: list[pulumi.Resource] | None = None

    @property
    def ready(self) -> list[pulumi.Resource]:
        """The database cluster, Ready, for the release to wait on; reading it before `install` raises."""
        if self._ready is None:
            raise StepError(f"TimescaleDatabase {self._name!r}: ready was read before install(); call "
                            "install(provider, secret_store_name, depends_on) once the cluster services exist")
        return self._ready

    def install(self, provider: k8s.Provider, secret_store_name: str, depends_on: Sequence[pulumi.Resource],
                charts_after: Sequence[pulumi.Resource] | None = None) -> None:
        """The operator, its backup plugin, and the database itself, on the cluster. The database's
        objects wait for `depends_on` (the secret store they read through); the charts only for
        `charts_after` (the webhooks that must admit their Services), `depends_on` if not given."""
        if self._ready is not None:
            raise StepError(f"TimescaleDatabase {self._name!r}: install() was called twice; it puts the "
                            "operator and the database on the cluster once")
        name, args, t = self._name, self._args, self._args.settings
        on_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        charts = list(depends_on if charts_after is None else charts_after)

        def after(*resources: pulumi.Resource, protect: bool = False) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=list(resources), protect=protect))

        certificates = chart_release(f"{name}-cert-manager", "cert-manager", CERT_MANAGER, "cert-manager", {
            "crds": {"enabled": True, "keep": True},
            **SYSTEM_PLACEMENT, "webhook": SYSTEM_PLACEMENT, "cainjector": SYSTEM_PLACEMENT,
            "startupapicheck": SYSTEM_PLACEMENT,
        }, on_cluster, charts, create_namespace=True)
        operator = chart_release(f"{name}-operator", "cloudnative-pg", OPERATOR, OPERATOR_NAMESPACE, {
            "crds": {"create": True}, "replicaCount": 2, **SYSTEM_PLACEMENT,
        }, on_cluster, charts, create_namespace=True)
        plugin = chart_release(f"{name}-backup-plugin", "plugin-barman-cloud", BACKUP_PLUGIN, OPERATOR_NAMESPACE,
                               dict(SYSTEM_PLACEMENT), on_cluster, [operator, certificates])

        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={
            "name": NAMESPACE,
            "labels": {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")},
        }, opts=on_cluster)
        # Retain: deleting the claim (or the cluster) in prod leaves the volume for a recovery.
        storage = k8s.storage.v1.StorageClass(
            f"{name}-storage-class", metadata={"name": STORAGE_CLASS}, provisioner="ebs.csi.aws.com",
            parameters=pulumi.Output.from_input(args.volume_key_arn).apply(storage_class_parameters),
            reclaim_policy="Retain" if args.protect else "Delete", volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True, opts=after(protect=args.protect))

        # Every object waits for the cluster services too: the ExternalSecret needs their CRDs and
        # secret store.
        def custom(suffix: str, api_version: str, kind: str, object_name: str, spec: pulumi.Input[Mapping],
                   *dependencies: pulumi.Resource, annotations: Mapping[str, str] | None = None,
                   protect: bool = False) -> k8s.apiextensions.CustomResource:
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}", api_version=api_version, kind=kind,
                metadata={"name": object_name, "namespace": NAMESPACE, **({"annotations": annotations} if annotations
                                                                           else {})},
                spec=spec, opts=after(namespace, *depends_on, *dependencies, protect=protect))

        owner = custom("owner-credentials", "external-secrets.io/v1", "ExternalSecret",
                       owner_secret_name(t.cluster_name),
                       self.endpoint.secret_arn.apply(lambda arn: owner_credentials(arn, secret_store_name,
                                                                                    t.cluster_name)))
        catalog = custom("image-catalog", "postgresql.cnpg.io/v1", "ImageCatalog", IMAGE_CATALOG, image_catalog(t),
                         operator)
        store = custom("object-store", "barmancloud.cnpg.io/v1", "ObjectStore", object_store_name(t.cluster_name),
                       self.backup_bucket_name.apply(lambda bucket: object_store(t, bucket)), plugin)
        policy = k8s.networking.v1.NetworkPolicy(f"{name}-network-policy", metadata={
            "name": t.cluster_name, "namespace": NAMESPACE}, spec=network_policy(t.cluster_name),
            opts=after(namespace))
        cluster = custom("cluster", "postgresql.cnpg.io/v1", "Cluster", t.cluster_name,
                         self.backup_role_arn.apply(lambda arn: cluster_spec(t, arn)),
                         owner, catalog, store, storage, policy, operator, plugin,
                         annotations={"pulumi.com/waitFor": "condition=Ready",
                                      "pulumi.com/timeoutSeconds": str(READY_TIMEOUT_SECONDS)},
                         protect=args.protect)
        custom("daily-backup", "postgresql.cnpg.io/v1", "ScheduledBackup", f"{t.cluster_name}-daily",
               scheduled_backup(t, args.backup_hour_utc), cluster)
        self._ready = [cluster]
        self.register_outputs({"host": self.endpoint.host, "secret_arn": self.endpoint.secret_arn,
                               "backup_bucket": self.backup_bucket_name})

