"""The application's load balancer, owned by the stack: an ALB, its listeners, one target group per
HTTP service, its security group and, with a domain, its certificate, WAF association and DNS
record. The release binds pods to the target groups with the load balancer controller's
TargetGroupBinding (elbv2.k8s.aws/v1beta1, created by components/release.py before the chart), so
that the controller registers and deregisters pod IPs and creates nothing itself.

Created here rather than by the controller from an Ingress, so that the plan, the policy pack and
checkov judge the ALB and its target groups, alarms can name them, and a destroy removes them in
the graph's order instead of chasing what a controller made.

Without a domain (dev) there is no certificate, so the ALB is internal and serves plain HTTP to
the VPC only; with one it is internet-facing, HTTPS only (HTTP redirects), behind the REGIONAL web
ACL. Either way its nodes are in the public subnets, which hold no pod: the NetworkPolicies admit
the ALB's traffic by those subnets' CIDRs, and in the private subnets every pod's address would
match them too. An internal ALB gets no public address wherever it is (ELB user guide,
"Load balancer scheme": internal nodes have private IP addresses only).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.args import check_account_id, check_ids, check_name, check_region, check_tags, is_plain, refuse


@dataclasses.dataclass(frozen=True)
class Backend:
    """An HTTP service of ../shared/ecomind-app.md as the chart serves it (charts/ecomind
    templates/_workloads.tpl, ecomind.port and ecomind.healthPath)."""

    port: int
    health_path: str


BACKENDS: Mapping[str, Backend] = {
    "gateway": Backend(8080, "/health"),
    "api": Backend(8000, "/health"),
    "ui": Backend(3000, "/"),
}
# Gateway and api both serve /v1/...: the ingest path is matched exactly and first, so POST
# /v1/ingest reaches only the gateway and every other /v1 path the api; anything else is the UI.
# An ALB path pattern without a wildcard matches exactly (ELB user guide, "Listener rules",
# path conditions); rules are evaluated from the lowest priority number.
ROUTES: tuple[tuple[str, tuple[str, ...]], ...] = (("gateway", ("/v1/ingest",)), ("api", ("/v1", "/v1/*")))
DEFAULT_BACKEND = "ui"
# The outside check (components/synthetics.py) asks each service for its own health path through
# the ALB. The ui's "/" is on its route; gateway and api answer /health, which the routes send to
# the ui, so a request for exactly /health carrying this header with a service's name goes to that
# service (an http-header condition next to the path; ELB user guide, "Listener rules"). The
# header opens nothing new: /health is what the ALB's own health checks fetch.
HEALTH_ROUTE_HEADER = "X-Ecomind-Health"


def health_requests() -> dict[str, tuple[str, dict[str, str]]]:
    """Per HTTP service, the path and headers that reach its health path through the ALB."""
    return {service: (backend.health_path, {} if service == DEFAULT_BACKEND else {HEALTH_ROUTE_HEADER: service})
            for service, backend in BACKENDS.items()}


# TLS 1.3 with TLS 1.2 fallback (ELB user guide, "Security policies for your Application Load Balancer").
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
SSL_POLICIES = re.compile(r"ELBSecurityPolicy-TLS13-1-[23]-\S+")
HSTS = "max-age=31536000; includeSubDomains"
# Where the ALB writes its access logs in the log bucket (the bucket's policy grants this prefix).
ACCESS_LOG_PREFIX = "alb"
# Checks as often and failing as fast as ELB allows (interval 5-300 s, thresholds 2-10: ELB API
# reference, CreateTargetGroup), with a timeout under the interval: a dead target stops getting
# requests 8-13 s after it dies instead of 15-25 s (make plan's rollout table, ADR 0023), and a new
# one is healthy after 2 checks 5 s apart, which a rollout's readiness gate waits for. Each ALB
# node checks each target every 5 s: a few requests a second on the health paths.
HEALTH_CHECK = {"interval": 5, "timeout": 3, "healthy_threshold": 2, "unhealthy_threshold": 2}
# How long the ALB keeps an idle connection, to clients and to targets: ELB's default, set so the
# plan states it (LoadBalancerAttribute idle_timeout.timeout_seconds, 1-4000). Every HTTP service
# keeps its connections open longer (KEEP_ALIVE_SECONDS, the chart's http.keepAliveSeconds), so the
# ALB, not the server, closes an idle one and never sends a request on a closing connection
# (ELB user guide, "Connection idle timeout": else HTTP 502).
IDLE_TIMEOUT_SECONDS = 60
KEEP_ALIVE_SECONDS = IDLE_TIMEOUT_SECONDS + 15
# ELB's range for deregistration_delay.timeout_seconds (ELB API reference, TargetGroupAttribute).
DEREGISTRATION_RANGE = range(0, 3601)
HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


# The account Elastic Load Balancing writes access logs from, per region, for the regions settings
# allows (ELB user guide, "Enable access logs for your Application Load Balancer", step 2: regions
# available before August 2022 grant this account; later ones grant the service principal
# logdelivery.elasticloadbalancing.amazonaws.com instead). The IDs are as that table is widely
# copied; the AWS page itself was not read here, so a region added to settings needs checking there.
LOG_DELIVERY_ACCOUNTS: Mapping[str, str] = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-2": "797873946194",
    "eu-west-1": "156460612806", "eu-central-1": "054676820928",
}


@dataclasses.dataclass(frozen=True)
class ApplicationLoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    """VPC of the cluster (`Network.vpc_id`): the target groups' and the security group's."""
    vpc_cidr: str
    """The VPC's CIDR: who reaches an internal ALB."""
    public_subnet_ids: Sequence[pulumi.Input[str]]
    """Public subnets, one per zone: where the ALB's nodes are, internal or internet-facing (they
    hold no pod, so the pods' NetworkPolicies can admit the ALB by these subnets' CIDRs)."""
    targets_security_group_id: pulumi.Input[str]
    """Security group of the nodes, whose ENIs carry the pod IPs the target groups hold
    (`Cluster.cluster_security_group_id`): it admits the ALB on the backends' ports only."""
    deregistration_delay_seconds: int
    """How long a deregistered target drains (components/release.py DEREGISTRATION_DELAY_SECONDS):
    the pods' preStop sleep is longer."""
    access_log_bucket: pulumi.Input[str]
    """Bucket of the access logs (`Storage.logs`, SSE-S3: the only encryption ELB log delivery
    supports, ELB user guide "Enable access logs for your Application Load Balancer")."""
    region: str
    """Region of the stack."""
    account_id: pulumi.Input[str]
    """The stack's account."""
    tags: Mapping[str, str]
    """Stack tags, applied to every resource here."""
    host: str | None = None
    """The host EcoMind answers on (app.<domain>); None without a domain."""
    hosted_zone_id: str | None = None
    """Route 53 zone of the domain (setting publicHostedZoneId): the certificate's validation
    record and the host's alias go there; set with `host`, or neither."""
    web_acl_arn: pulumi.Input[str] | None = None
    """The REGIONAL web ACL of the internet-facing ALB; required with `host`."""
    failover_host: str | None = None
    """A recovery stack: the source's host (app.<domain>) that this ALB answers for too, on its
    certificate and in its host conditions, so that pointing that name here at failover needs nothing
    new. Its record stays the source's: the switch is a runbook step, never a side effect of `up`."""
    ssl_policy: str = SSL_POLICY
    """The HTTPS listener's security policy: a TLS 1.3 policy."""
    protect: bool = False
    """Deletion protection on the ALB (on in prod): a load balancer whose DNS name clients and
    the alias know is not recreated by accident."""

    def __post_init__(self) -> None:
        if is_plain(self.vpc_id) and not self.vpc_id:
            refuse(self, "vpc_id", "expected the VPC's ID (or an Output resolving to it)")
        if not isinstance(self.vpc_cidr, str) or not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", self.vpc_cidr):
            refuse(self, "vpc_cidr", "expected the VPC's IPv4 CIDR, such as 10.20.0.0/16")
        # An ALB needs subnets in at least two zones (ELB API reference, CreateLoadBalancer, Subnets).
        check_ids(self, "public_subnet_ids", minimum=2, what="one per zone, at least 2")
        if is_plain(self.targets_security_group_id) and not self.targets_security_group_id.startswith("sg-"):
            refuse(self, "targets_security_group_id", "expected a security group ID (sg-...) or an Output")
        delay = self.deregistration_delay_seconds
        if not isinstance(delay, int) or isinstance(delay, bool) or delay not in DEREGISTRATION_RANGE:
            refuse(self, "deregistration_delay_seconds", "expected whole seconds from 0 to 3600 (ELB's range)")
        if is_plain(self.access_log_bucket) and not self.access_log_bucket:
            refuse(self, "access_log_bucket", "expected the access-log bucket's name (or an Output resolving to it)")
        check_log_delivery_region(self)
        check_account_id(self)
        check_tags(self)
        if bool(self.host) != bool(self.hosted_zone_id):
            refuse(self, "hosted_zone_id" if self.host else "host",
                   "host and hosted_zone_id are set together (a domain) or both None")
        if self.host is not None and not (isinstance(self.host, str) and HOST.fullmatch(self.host)):
            refuse(self, "host", "expected a lower-case DNS name under the stack's domain, "
                   "such as app.ecomind.example.com")
        if self.failover_host is not None and not (self.host and HOST.fullmatch(str(self.failover_host))
                                                    and self.failover_host != self.host):
            refuse(self, "failover_host", "expected another host under the domain, with host set (a recovery stack)")
        if self.host and self.web_acl_arn is None:
            refuse(self, "web_acl_arn", "an internet-facing ALB (with host) needs the REGIONAL web ACL in front of it")
        check_name(self, "ssl_policy", SSL_POLICIES, "expected a TLS 1.3 ELB security policy, such as " + SSL_POLICY)

    @property
    def internet_facing(self) -> bool:
        return bool(self.host)


def check_log_delivery_region(args: object) -> None:
    """`args.region` is a region whose ELB log-delivery account this module knows."""
    check_region(args)
    if args.region not in LOG_DELIVERY_ACCOUNTS:
        refuse(args, "region", "expected a region whose ELB log-delivery account is known: "
               + ", ".join(LOG_DELIVERY_ACCOUNTS))


def log_delivery_principal(region: str) -> str:
    return f"arn:aws:iam::{LOG_DELIVERY_ACCOUNTS[region]}:root"


class ApplicationLoadBalancer(pulumi.ComponentResource):
    """The ALB in front of the EcoMind services, with a target group per service."""

    target_group_arns: dict[str, pulumi.Output[str]]
    """Target group ARN per HTTP service: the release's TargetGroupBindings name them."""
    target_group_arn_suffixes: dict[str, pulumi.Output[str]]
    """`targetgroup/<name>/<id>` per HTTP service: the TargetGroup dimension of its metrics."""
    dns_name: pulumi.Output[str]
    """The ALB's DNS name (the host's alias target, or dev's address)."""
    arn_suffix: pulumi.Output[str]
    """`app/<name>/<id>`: the LoadBalancer dimension of the ALB's CloudWatch metrics."""
    security_group_id: pulumi.Output[str]
    """The ALB's security group."""
    certificate_arn: pulumi.Output[str] | None
    """The host's validated ACM certificate, with a domain."""
    url: pulumi.Output[str]
    """Where EcoMind answers: https://<host>, or http://<DNS name> inside the VPC."""

    def __init__(self, name: str, args: ApplicationLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:edge:ApplicationLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        public = args.internet_facing

        def tagged(resource: str) -> dict[str, str]:
            return {**args.tags, "Name": resource}

        group = aws.ec2.SecurityGroup(
            f"{name}-alb", vpc_id=args.vpc_id, tags=tagged(f"{name}-alb"),
            description="EcoMind ALB: HTTPS from the internet" if public else "EcoMind ALB: HTTP from the VPC",
            opts=child)
        # Internet-facing: 443, and 80 only to redirect; internal: 80 from the VPC.
        listen = [(443, "0.0.0.0/0"), (80, "0.0.0.0/0")] if public else [(80, args.vpc_cidr)]
        for port, cidr in listen:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-in-{port}", security_group_id=group.id, cidr_ipv4=cidr, ip_protocol="tcp",
                from_port=port, to_port=port, tags=tagged(f"{name}-alb-in-{port}"),
                description="HTTP, redirected to HTTPS" if public and port == 80 else f"clients on {port}", opts=child)
        # To the pods and back: the ALB reaches each backend's port on the nodes' group, and that
        # group admits exactly those ports from the ALB. The controller adds no rule of its own: a
        # TargetGroupBinding without `networking` makes it manage none (aws-load-balancer-controller
        # pkg/networking/networking_manager.go, ReconcileForPodEndpoints, at 225f445).
        for service, backend in BACKENDS.items():
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-alb-to-{service}", security_group_id=group.id,
                referenced_security_group_id=args.targets_security_group_id, ip_protocol="tcp",
                from_port=backend.port, to_port=backend.port, description=f"to the {service} pods",
                tags=tagged(f"{name}-alb-to-{service}"), opts=child)
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{service}-from-alb", security_group_id=args.targets_security_group_id,
                referenced_security_group_id=group.id, ip_protocol="tcp", from_port=backend.port,
                to_port=backend.port, description=f"{service} pods from the EcoMind ALB",
                tags=tagged(f"{name}-{service}-from-alb"), opts=child)

        balancer = aws.lb.LoadBalancer(
            f"{name}-alb", load_balancer_type="application", internal=not public,
            subnets=list(args.public_subnet_ids),
            security_groups=[group.id], ip_address_type="ipv4",
            # Headers that are not valid HTTP are dropped, not passed on (request smuggling).
            drop_invalid_header_fields=True, desync_mitigation_mode="strictest", idle_timeout=IDLE_TIMEOUT_SECONDS,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=args.access_log_bucket, prefix=ACCESS_LOG_PREFIX,
                                                          enabled=True),
            enable_deletion_protection=args.protect, tags=tagged(f"{name}-alb"), opts=child)

        self.target_group_arns = {}
        self.target_group_arn_suffixes = {}
        groups: dict[str, aws.lb.TargetGroup] = {}
        for service, backend in BACKENDS.items():
            groups[service] = aws.lb.TargetGroup(
                f"{name}-{service}", target_type="ip", protocol="HTTP", protocol_version="HTTP1",
                port=backend.port, vpc_id=args.vpc_id, deregistration_delay=args.deregistration_delay_seconds,
                health_check=aws.lb.TargetGroupHealthCheckArgs(
                    enabled=True, protocol="HTTP", port="traffic-port", path=backend.health_path, matcher="200",
                    **HEALTH_CHECK),
                tags=tagged(f"{name}-{service}"), opts=child)
            self.target_group_arns[service] = groups[service].arn
            self.target_group_arn_suffixes[service] = groups[service].arn_suffix

        def forward(service: str) -> dict:
            return {"type": "forward", "target_group_arn": groups[service].arn}

        # With a host, a request for any other host is refused rather than served.
        hosts = [args.host, *([args.failover_host] if args.failover_host else [])]
        host_conditions = [{"host_header": {"values": hosts}}] if args.host else []
        default = ({"type": "fixed-response", "fixed_response": {
            "content_type": "text/plain", "status_code": "404", "message_body": "Not Found"}}
                   if args.host else forward(DEFAULT_BACKEND))

        self.certificate_arn = None
        if public:
            self.certificate_arn = self._certificate(name, args, child)
            routed = aws.lb.Listener(
                f"{name}-https", load_balancer_arn=balancer.arn, port=443, protocol="HTTPS",
                ssl_policy=args.ssl_policy, certificate_arn=self.certificate_arn, default_actions=[default],
                routing_http_response_strict_transport_security_header_value=HSTS,
                tags=tagged(f"{name}-https"), opts=child)
            aws.lb.Listener(
                f"{name}-http", load_balancer_arn=balancer.arn, port=80, protocol="HTTP",
                default_actions=[{"type": "redirect", "redirect": {
                    "port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
                tags=tagged(f"{name}-http"), opts=child)
            aws.wafv2.WebAclAssociation(f"{name}-waf", resource_arn=balancer.arn, web_acl_arn=args.web_acl_arn,
                                        opts=child)
            # allow_overwrite: a stack that ran ExternalDNS has this record already; the stack takes it over.
            aws.route53.Record(
                f"{name}-alias", zone_id=args.hosted_zone_id, name=args.host, type="A", allow_overwrite=True,
                aliases=[{"name": balancer.dns_name, "zone_id": balancer.zone_id, "evaluate_target_health": True}],
                opts=child)
        else:
            routed = aws.lb.Listener(
                f"{name}-http", load_balancer_arn=balancer.arn, port=80, protocol="HTTP", default_actions=[default],
                tags=tagged(f"{name}-http"), opts=child)
        for priority, (service, (path, headers)) in enumerate(
                ((s, r) for s, r in health_requests().items() if r[1]), start=1):
            aws.lb.ListenerRule(
                f"{name}-{service}-health-route", listener_arn=routed.arn, priority=priority,
                actions=[forward(service)], conditions=[
                    {"path_pattern": {"values": [path]}},
                    *({"http_header": {"http_header_name": k, "values": [v]}} for k, v in headers.items()),
                    *host_conditions],
                tags=tagged(f"{name}-{service}-health-route"), opts=child)
        for priority, (service, paths) in enumerate(
                [*ROUTES, *([(DEFAULT_BACKEND, ("/*",))] if args.host else [])], start=1):
            aws.lb.ListenerRule(
                f"{name}-{service}-route", listener_arn=routed.arn, priority=priority * 10, actions=[forward(service)],
                conditions=[{"path_pattern": {"values": list(paths)}}, *host_conditions],
                tags=tagged(f"{name}-{service}-route"), opts=child)

        self.dns_name = balancer.dns_name
        self.arn_suffix = balancer.arn_suffix
        self.security_group_id = group.id
        self.url = pulumi.Output.from_input(f"https://{args.host}") if args.host else balancer.dns_name.apply(
            lambda dns: f"http://{dns}")
        self.register_outputs({"dns_name": self.dns_name, "url": self.url,
                               "target_group_arns": self.target_group_arns})

    @staticmethod
    def _certificate(name: str, args: ApplicationLoadBalancerArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """An ACM certificate for the host (and the failover host), validated through a record per
        name in the stack's zone. ACM asks one account for the same record for a name in every region
        (ACM user guide, "DNS validation": the CNAME is specific to the domain and the account, and
        works in any region), so the failover host's record is the source stack's: a recovery stack
        validates with it and never owns it, so that destroying the recovery stack cannot delete what
        the source's renewals need (review M3; terraform-aws-modules/terraform-aws-acm#84).
        allow_overwrite: a record left by an earlier certificate of the stack's own name is taken over."""
        names = [args.host, *([args.failover_host] if args.failover_host else [])]
        certificate = aws.acm.Certificate(
            f"{name}-certificate", domain_name=args.host, subject_alternative_names=names[1:] or None,
            validation_method="DNS", key_algorithm="EC_prime256v1", tags={**args.tags, "Name": args.host}, opts=child)
        fqdns = []
        for index, domain in enumerate(names):
            option = certificate.domain_validation_options.apply(
                lambda options, d=domain: next(o for o in options if o.domain_name == d))
            if domain == args.failover_host:
                fqdns.append(option.resource_record_name.apply(lambda record: record.rstrip(".")))
                continue
            fqdns.append(aws.route53.Record(
                f"{name}-certificate-validation" + (f"-{index}" if index else ""), zone_id=args.hosted_zone_id,
                name=option.resource_record_name, type=option.resource_record_type,
                records=[option.resource_record_value], ttl=300, allow_overwrite=True, opts=child).fqdn)
        return aws.acm.CertificateValidation(
            f"{name}-certificate", certificate_arn=certificate.arn, validation_record_fqdns=fqdns,
            opts=child).certificate_arn
