"""Alarms on what users get, for EcoMind's 99.9% availability target, and the stack's dashboard.

Error-budget alarms follow the multiwindow, multi-burn-rate recipe of Google's SRE workbook
("Alerting on SLOs", recommendation 6): page when the budget burns 14.4 times too fast over an
hour (2% of a 30-day budget gone) and over the last 5 minutes too, or 6 times too fast over 6
hours (5% gone) and the last 30 minutes. The long window makes a page mean real damage; the
short one makes it stop soon after the problem does. CloudWatch evaluates each window as a
metric-math alarm, and a composite alarm pages when both of a pair are in ALARM.

The ratio is the target group's 5xx responses over its requests (ALB metrics per target
group; they have no per-path dimension), counted only when the window saw at least
MIN_REQUESTS_PER_SECOND: at EcoMind's ~1 request a second a quiet hour of a handful of requests
is no evidence of a burn, and one failure in it pages nobody.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.args import check_account_id, check_name, check_tags, is_list, is_plain, refuse
from components.load_balancer import BACKENDS
from components.monitoring import alarm_name, notifying_alarm
from components.synthetics import checks

AVAILABILITY_OBJECTIVE = 0.999
ERROR_BUDGET = 1 - AVAILABILITY_OBJECTIVE


@dataclasses.dataclass(frozen=True)
class BurnRate:
    name: str
    rate: float
    long_seconds: int
    short_seconds: int

    @property
    def threshold(self) -> float:
        """The error ratio at which the budget burns `rate` times too fast."""
        return round(self.rate * ERROR_BUDGET, 6)


# SRE workbook, table 5-8 (page-worthy pairs); the short window is 1/12 of the long one.
BURN_RATES = (BurnRate("fast", 14.4, 3600, 300), BurnRate("slow", 6.0, 21600, 1800))
# Below this many requests a second over a window, the window's ratio counts as 0.
MIN_REQUESTS_PER_SECOND = 0.2
# Latency objective: 99% of requests answered within this many seconds, per service; judged over
# LATENCY_PERIODS consecutive 5-minute periods of p99 TargetResponseTime.
LATENCY_P99_SECONDS = {"gateway": 0.5, "api": 1.0, "ui": 0.5}
LATENCY_PERIODS = 3
# The worker is behind when its oldest unconsumed event on events.raw is this old. MSK publishes
# consumer lag only while the group is stable, so no data counts as breaching (MSK developer
# guide, "Monitor consumer lags").
CONSUMER_LAG_SECONDS = 300
CONSUMER_LAG_PERIODS = 3
# A target group with an unhealthy target for this long: pods failing readiness behind the ALB.
UNHEALTHY_PERIODS = 2
PERIOD_SECONDS = 300
# Route 53 health checks: every 30 seconds, 3 failures in a row mark the endpoint unhealthy.
HEALTH_CHECK_INTERVAL_SECONDS = 30
HEALTH_CHECK_FAILURES = 3
# Route 53 publishes health-check metrics in us-east-1 only (Route 53 developer guide,
# "Monitoring health checks using CloudWatch").
ROUTE53_METRICS_REGION = "us-east-1"


@dataclasses.dataclass(frozen=True)
class ServiceLevelsArgs:
    stack: str
    """Stack name: names every alarm (ecomind-<stack>-...) and the dashboard."""
    region: str
    """Region of the stack (and of the alert topic)."""
    account_id: pulumi.Input[str]
    """The stack's account: the dashboard's alarm widget names alarms by ARN."""
    topic_arn: pulumi.Input[str]
    """The KMS-encrypted alert topic (`Monitoring.topic_arn`) every alarm notifies."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """`app/<name>/<id>` of the stack's ALB (`ApplicationLoadBalancer.arn_suffix`)."""
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]]
    """`targetgroup/<name>/<id>` per HTTP service (`ApplicationLoadBalancer.target_group_arn_suffixes`)."""
    kafka_cluster_name: str
    """MSK cluster name (the consumer-lag metrics' `Cluster Name`)."""
    consumer_group: str
    """The worker's consumer group (../shared/ecomind-app.md: ecomind-worker)."""
    consumed_topic: str
    """The topic the worker consumes (events.raw)."""
    tags: Mapping[str, str]
    """Stack tags, on every alarm and the health check."""
    public_host: str | None = None
    """The host EcoMind answers on from the internet; None (no domain) means nothing is public to
    check from outside."""
    other_alarm_names: Sequence[str] = ()
    """Physical names of the other components' alarms (outside check, pods and nodes, data tier:
    `HealthCanary`, `ClusterTelemetry`, `Monitoring` alarm_names), shown on the dashboard."""
    canary_name: str | None = None
    """The outside check (`HealthCanary.canary_name`): its steps' success on the dashboard; None leaves it off."""
    cluster_name: str | None = None
    """The EKS cluster (Container Insights' ClusterName): pods and nodes on the dashboard; None leaves them off."""
    deployments: Sequence[str] = ()
    """EcoMind's Deployments (Container Insights' PodName), shown with `cluster_name`."""
    namespace: str = "ecomind"
    """Their namespace (components/release.py NAMESPACE)."""

    def __post_init__(self) -> None:
        check_name(self, "stack", rule="expected the stack name, which names the alarms and dashboard")
        if is_plain(self.topic_arn) and not self.topic_arn.startswith("arn:aws"):
            refuse(self, "topic_arn", "expected the alert topic's ARN (Monitoring.topic_arn)")
        if not isinstance(self.target_group_arn_suffixes, Mapping) or set(self.target_group_arn_suffixes) != set(
                BACKENDS):
            refuse(self, "target_group_arn_suffixes", "expected one target group per HTTP service: "
                   + ", ".join(BACKENDS))
        check_name(self, "kafka_cluster_name", rule="expected the MSK cluster name")
        check_name(self, "consumer_group", rule="expected the worker's consumer group")
        check_name(self, "consumed_topic", rule="expected the topic the worker consumes")
        check_tags(self)
        if self.public_host is not None and (not isinstance(self.public_host, str) or "." not in self.public_host):
            refuse(self, "public_host", "expected the public host (app.<domain>), or None without a domain")
        # CloudWatch alarms notify topics in their own region only.
        if self.public_host and self.region != ROUTE53_METRICS_REGION:
            refuse(self, "region", f"the health check's alarm lives in {ROUTE53_METRICS_REGION} with Route 53's "
                   "metrics and can notify only a topic there; a stack elsewhere needs a topic in that region")
        if not is_list(self.other_alarm_names) or not all(isinstance(n, str) and n for n in self.other_alarm_names):
            refuse(self, "other_alarm_names", "expected a list of alarm names")
        if self.canary_name is not None:
            check_name(self, "canary_name", rule="expected the canary's name, or None")
        if self.cluster_name is not None:
            check_name(self, "cluster_name", rule="expected the cluster's name, or None")
        if not is_list(self.deployments) or not all(isinstance(n, str) and n for n in self.deployments):
            refuse(self, "deployments", "expected a list of Deployment names")
        if self.deployments and self.cluster_name is None:
            refuse(self, "cluster_name", "expected the cluster's name with deployments (their metrics' ClusterName)")
        check_account_id(self)


def _metric(query_id: str, name: str, dimensions: Mapping[str, pulumi.Input[str]], seconds: int) -> dict:
    return {"id": query_id, "return_data": False, "metric": {
        "namespace": "AWS/ApplicationELB", "metric_name": name, "dimensions": dict(dimensions), "period": seconds,
        "stat": "Sum"}}


def _ratio(errors: str, requests: str, seconds: int) -> dict:
    """The window's 5xx ratio, or 0 when it saw too few requests to judge."""
    minimum = int(MIN_REQUESTS_PER_SECOND * seconds)
    return {"id": "ratio", "return_data": True, "label": "5xx ratio",
            "expression": f"IF({requests} >= {minimum}, {errors} / ({requests}), 0)"}


def _ratio_queries(load_balancer: pulumi.Input[str], target_group: pulumi.Input[str], seconds: int) -> list[dict]:
    """A service's window: its target group's 5xx over its requests."""
    dimensions = {"LoadBalancer": load_balancer, "TargetGroup": target_group}
    return [_metric("errors", "HTTPCode_Target_5XX_Count", dimensions, seconds),
            _metric("requests", "RequestCount", dimensions, seconds),
            _ratio("FILL(errors, 0)", "FILL(requests, 0)", seconds)]


def _edge_ratio_queries(load_balancer: pulumi.Input[str], seconds: int) -> list[dict]:
    """The whole ALB's window, counting the 5xx the ALB answers itself (no registered or healthy
    target, a target that reset): those reach no target group's metrics, and RequestCount counts
    only requests for which the ALB chose a target (ALB user guide, "CloudWatch metrics for your
    Application Load Balancer"), so they are added to both sides."""
    dimensions = {"LoadBalancer": load_balancer}
    return [_metric("elb", "HTTPCode_ELB_5XX_Count", dimensions, seconds),
            _metric("targets", "HTTPCode_Target_5XX_Count", dimensions, seconds),
            _metric("requests", "RequestCount", dimensions, seconds),
            _ratio("(FILL(elb, 0) + FILL(targets, 0))", "FILL(requests, 0) + FILL(elb, 0)", seconds)]


class ServiceLevels(pulumi.ComponentResource):
    """Error-budget, latency, health and consumer-lag alarms, an outside check, and a dashboard."""

    alarm_names: list[str]
    """Every alarm that notifies the topic (composites for the error budget)."""
    breaching_alarm_names: list[str]
    """Those of them that count missing data as breaching: a stack stopped on purpose
    (components/office_hours.py) quiets them."""
    dashboard_name: str
    """The stack's CloudWatch dashboard."""

    def __init__(self, name: str, args: ServiceLevelsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:operations:ServiceLevels", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarm_names, self.breaching_alarm_names = [], []
        prefix = f"ecomind-{args.stack}"

        def alarm(alarm: str, description: str, **settings) -> aws.cloudwatch.MetricAlarm:
            self.alarm_names.append(alarm_name(args.stack, alarm))
            if settings.get("treat_missing_data") == "breaching":
                self.breaching_alarm_names.append(alarm_name(args.stack, alarm))
            return notifying_alarm(f"{name}-{alarm}", stack=args.stack, alarm=alarm, topic_arn=args.topic_arn,
                                   tags=args.tags, opts=child, alarm_description=description, **settings)

        def window(alarm: str, description: str, **settings) -> aws.cloudwatch.MetricAlarm:
            """A composite's input: no actions of its own, or one burn would page three times."""
            return aws.cloudwatch.MetricAlarm(f"{name}-{alarm}", name=alarm_name(args.stack, alarm),
                                              alarm_description=description, tags=args.tags, opts=child, **settings)

        lb = args.load_balancer_arn_suffix
        # Each service on its target group, and the whole ALB with the 5xx it answers itself.
        scopes = [(service, functools.partial(_ratio_queries, lb, target_group))
                  for service, target_group in args.target_group_arn_suffixes.items()]
        scopes.append(("alb", functools.partial(_edge_ratio_queries, lb)))
        for service, queries in scopes:
            for burn in BURN_RATES:
                windows, names = [], []
                for span, seconds in (("long", burn.long_seconds), ("short", burn.short_seconds)):
                    names.append(alarm_name(args.stack, f"{service}-burn-{burn.name}-{span}"))
                    windows.append(window(
                        f"{service}-burn-{burn.name}-{span}",
                        f"{service}: 5xx ratio above {burn.threshold:.4f} ({burn.rate}x the "
                        f"{ERROR_BUDGET:.1%} error budget) over {seconds // 60} minutes",
                        metric_queries=queries(seconds), threshold=burn.threshold,
                        comparison_operator="GreaterThanThreshold", evaluation_periods=1,
                        treat_missing_data="notBreaching"))
                physical = alarm_name(args.stack, f"{service}-error-budget-{burn.name}")
                self.alarm_names.append(physical)
                aws.cloudwatch.CompositeAlarm(
                    f"{name}-{service}-error-budget-{burn.name}", alarm_name=physical,
                    alarm_description=(f"{service} burns its {AVAILABILITY_OBJECTIVE:.1%} error budget {burn.rate}x "
                                       f"too fast over {burn.long_seconds // 3600} h and the last "
                                       f"{burn.short_seconds // 60} min (docs/ALARMS.md)"),
                    # The inputs' physical names are plain strings; CloudWatch refuses a rule naming
                    # an alarm that does not exist yet, hence the explicit dependency.
                    alarm_rule=" AND ".join(f'ALARM("{n}")' for n in names),
                    actions_enabled=True, alarm_actions=[args.topic_arn], ok_actions=[args.topic_arn],
                    tags=args.tags, opts=pulumi.ResourceOptions(parent=self, depends_on=windows))
        for service, target_group in args.target_group_arn_suffixes.items():
            dimensions = {"LoadBalancer": lb, "TargetGroup": target_group}
            alarm(f"{service}-latency-p99",
                  f"{service}: p99 response time above {LATENCY_P99_SECONDS[service]} s for "
                  f"{LATENCY_PERIODS * PERIOD_SECONDS // 60} minutes (docs/ALARMS.md)",
                  namespace="AWS/ApplicationELB", metric_name="TargetResponseTime", dimensions=dimensions,
                  extended_statistic="p99", period=PERIOD_SECONDS, evaluation_periods=LATENCY_PERIODS,
                  threshold=LATENCY_P99_SECONDS[service], comparison_operator="GreaterThanThreshold",
                  treat_missing_data="notBreaching")
            alarm(f"{service}-unhealthy-targets",
                  f"{service}: a pod behind the ALB failing its health check for "
                  f"{UNHEALTHY_PERIODS * PERIOD_SECONDS // 60} minutes (docs/ALARMS.md)",
                  namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount", dimensions=dimensions,
                  statistic="Maximum", period=PERIOD_SECONDS, evaluation_periods=UNHEALTHY_PERIODS, threshold=0,
                  comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching")
        alarm("worker-consumer-lag",
              f"worker: the oldest unconsumed event on {args.consumed_topic} is over {CONSUMER_LAG_SECONDS} s old, "
              "or MSK reports no lag because the group is not stable (docs/ALARMS.md)",
              namespace="AWS/Kafka", metric_name="EstimatedMaxTimeLag", statistic="Maximum",
              dimensions={"Cluster Name": args.kafka_cluster_name, "Consumer Group": args.consumer_group,
                          "Topic": args.consumed_topic},
              period=PERIOD_SECONDS, evaluation_periods=CONSUMER_LAG_PERIODS, threshold=CONSUMER_LAG_SECONDS,
              comparison_operator="GreaterThanThreshold", treat_missing_data="breaching")

        if args.public_host:
            # From outside: Route 53's checkers in several regions fetch the UI over HTTPS.
            check = aws.route53.HealthCheck(
                f"{name}-public", type="HTTPS", fqdn=args.public_host, port=443, resource_path="/",
                request_interval=HEALTH_CHECK_INTERVAL_SECONDS, failure_threshold=HEALTH_CHECK_FAILURES,
                enable_sni=True, tags={**args.tags, "Name": f"{prefix}-public"}, opts=child)
            alarm("public-health-check",
                  f"https://{args.public_host}/ failing from Route 53's checkers (docs/ALARMS.md)",
                  namespace="AWS/Route53", metric_name="HealthCheckStatus", dimensions={"HealthCheckId": check.id},
                  statistic="Minimum", period=60, evaluation_periods=2, threshold=1,
                  comparison_operator="LessThanThreshold", treat_missing_data="breaching",
                  region=ROUTE53_METRICS_REGION)

        self.dashboard_name = prefix
        body = pulumi.Output.all(lb, dict(args.target_group_arn_suffixes), args.account_id).apply(
            lambda a: json.dumps(dashboard(a[0], a[1], a[2], args, self.alarm_names), sort_keys=True))
        aws.cloudwatch.Dashboard(f"{name}-dashboard", dashboard_name=self.dashboard_name, dashboard_body=body,
                                 opts=child)
        self.register_outputs({"alarm_names": self.alarm_names, "dashboard_name": self.dashboard_name})


def dashboard(load_balancer: str, target_groups: Mapping[str, str], account_id: str, args: ServiceLevelsArgs,
              alarm_names: Sequence[str]) -> dict:
    """The dashboard body (CloudWatch dashboard body structure): error ratio against the fast
    burn threshold, requests and 5xx, p99 latency per service, consumer lag, the outside check's
    steps, unavailable pods and restarts per Deployment, nodes, and every alarm."""
    def tg(metric: str, service: str, stat: str, **extra) -> list:
        return ["AWS/ApplicationELB", metric, "LoadBalancer", load_balancer, "TargetGroup", target_groups[service],
                {"stat": stat, "label": f"{service} {metric}", **extra}]

    def widget(title: str, metrics: list, **properties) -> dict:
        return {"type": "metric", "width": 12, "height": 6, "properties": {
            "title": title, "region": args.region, "view": "timeSeries", "period": PERIOD_SECONDS,
            "metrics": metrics, **properties}}

    ratios = []
    for index, service in enumerate(sorted(target_groups)):
        ratios += [[*tg("HTTPCode_Target_5XX_Count", service, "Sum")[:-1], {"id": f"e{index}", "visible": False}],
                   [*tg("RequestCount", service, "Sum")[:-1], {"id": f"r{index}", "visible": False}],
                   [{"expression": f"FILL(e{index}, 0) / r{index}", "label": f"{service} 5xx ratio"}]]
    fast = BURN_RATES[0]
    widgets = [
        widget(f"5xx ratio per service (fast-burn page at {fast.threshold:.4f})", ratios,
               annotations={"horizontal": [{"label": "fast burn", "value": fast.threshold}]}),
        widget("Requests and 5xx per service", [tg(m, s, "Sum") for s in sorted(target_groups)
                                                for m in ("RequestCount", "HTTPCode_Target_5XX_Count")]),
        widget("p99 response time per service (s)",
               [tg("TargetResponseTime", s, "p99") for s in sorted(target_groups)]),
        widget(f"worker lag on {args.consumed_topic} (s)", [[
            "AWS/Kafka", "EstimatedMaxTimeLag", "Cluster Name", args.kafka_cluster_name, "Consumer Group",
            args.consumer_group, "Topic", args.consumed_topic, {"stat": "Maximum"}]],
            annotations={"horizontal": [{"label": "alarm", "value": CONSUMER_LAG_SECONDS}]}),
    ]
    if args.canary_name:
        widgets.append(widget("Outside check: success per service (%)", [
            ["CloudWatchSynthetics", "SuccessPercent", "CanaryName", args.canary_name, "StepName", step["name"],
             {"stat": "Average", "label": step["name"]}] for step in checks()]))
    if args.cluster_name:
        pods = {"ClusterName": args.cluster_name, "Namespace": args.namespace}
        widgets.append(widget("Pods: unavailable replicas and restarts per Deployment", [
            ["ContainerInsights", metric, *_flat({**pods, "PodName": deployment}),
             {"stat": stat, "label": f"{deployment} {label}"}]
            for deployment in args.deployments
            for metric, stat, label in (("status_replicas_unavailable", "Maximum", "unavailable"),
                                        ("pod_number_of_container_restarts", "Sum", "restarts"))]))
        widgets.append(widget("Nodes in the cluster", [
            ["ContainerInsights", metric, "ClusterName", args.cluster_name, {"stat": "Maximum"}]
            for metric in ("cluster_node_count", "cluster_failed_node_count")]))
    # Two half-width widgets a row, then every alarm across the page.
    for index, placed in enumerate(widgets):
        placed.update(x=index % 2 * 12, y=index // 2 * 6)
    widgets.append({"type": "alarm", "x": 0, "y": (len(widgets) + 1) // 2 * 6, "width": 24, "height": 6,
                    "properties": {"title": "Alarms (service levels, outside check, pods and nodes, data tier)",
                                   "alarms": [f"arn:aws:cloudwatch:{args.region}:{account_id}:alarm:{n}"
                                              for n in [*alarm_names, *args.other_alarm_names]]}})
    return {"widgets": widgets}


def _flat(dimensions: Mapping[str, str]) -> list[str]:
    return [part for pair in dimensions.items() for part in pair]
