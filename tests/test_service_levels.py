"""Alarms on what users get (components/service_levels.py): the error budget of the 99.9% target
by burn rate, latency, health, consumer lag, the outside check and the dashboard."""

from __future__ import annotations

import json

import pytest

from components.load_balancer import BACKENDS
from components.service_levels import (
    AVAILABILITY_OBJECTIVE,
    BURN_RATES,
    CONSUMER_LAG_SECONDS,
    LATENCY_P99_SECONDS,
    MIN_REQUESTS_PER_SECOND,
)
from components.streaming import CONSUMER_GROUP
from tests.conftest import stack_settings

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TG = "aws:lb/targetGroup:TargetGroup"
LB = "aws:lb/loadBalancer:LoadBalancer"


def topic(plan) -> str:
    return plan.one("aws:sns/topic:Topic").arn


def test_the_burn_rates_are_the_workbooks_pairs_for_a_999_objective():
    assert AVAILABILITY_OBJECTIVE == 0.999
    pairs = {(b.rate, b.long_seconds, b.short_seconds, b.threshold) for b in BURN_RATES}
    # 2% of a 30-day budget in 1 hour, 5% in 6 hours; each short window 1/12 of its long one.
    assert pairs == {(14.4, 3600, 300, 0.0144), (6.0, 21600, 1800, 0.006)}


@pytest.mark.parametrize("service", sorted(BACKENDS))
def test_each_service_pages_when_its_error_budget_burns_in_both_windows(stack_plan, service):
    group = stack_plan.one(TG, f"web-{service}")
    balancer = stack_plan.one(LB, "web-alb")
    for burn in BURN_RATES:
        composite = stack_plan.one(COMPOSITE, f"slo-{service}-error-budget-{burn.name}").inputs
        assert composite["alarmActions"] == [topic(stack_plan)] == composite["okActions"]
        windows = {}
        for window, seconds in (("long", burn.long_seconds), ("short", burn.short_seconds)):
            alarm = stack_plan.one(ALARM, f"slo-{service}-burn-{burn.name}-{window}")
            inputs = alarm.inputs
            assert f'ALARM("{inputs["name"]}")' in composite["alarmRule"]
            assert alarm.urn in stack_plan.one(COMPOSITE, f"slo-{service}-error-budget-{burn.name}").dependencies
            assert "alarmActions" not in inputs, "a window alone pages nobody: the composite does"
            assert inputs["threshold"] == burn.threshold and inputs["evaluationPeriods"] == 1
            assert inputs["treatMissingData"] == "notBreaching"
            metrics = {q["id"]: q["metric"] for q in inputs["metricQueries"] if "metric" in q}
            assert {m["metricName"] for m in metrics.values()} == {"HTTPCode_Target_5XX_Count", "RequestCount"}
            for metric in metrics.values():
                assert metric["period"] == seconds and metric["stat"] == "Sum"
                # The mocked cloud's arnSuffix outputs: the dimensions name this stack's ALB and group.
                assert metric["dimensions"]["TargetGroup"].startswith(f"targetgroup/web-{service}-")
                assert metric["dimensions"]["LoadBalancer"].startswith("app/web-alb-")
                assert group.urn in alarm.dependencies and balancer.urn in alarm.dependencies
            [ratio] = [q for q in inputs["metricQueries"] if q.get("returnData")]
            assert f">= {int(MIN_REQUESTS_PER_SECOND * seconds)}," in ratio["expression"]
            windows[window] = seconds
        assert windows == {"long": burn.long_seconds, "short": burn.short_seconds}


def test_the_whole_alb_pages_on_the_5xx_it_answers_itself(stack_plan):
    """With no target to choose, the ALB answers 503 itself: no target group counts it and
    RequestCount leaves it out, so the ALB-wide ratio adds it to both sides."""
    for burn in BURN_RATES:
        composite = stack_plan.one(COMPOSITE, f"slo-alb-error-budget-{burn.name}").inputs
        assert composite["alarmActions"] == [topic(stack_plan)]
        long = stack_plan.one(ALARM, f"slo-alb-burn-{burn.name}-long").inputs
        metrics = {q["id"]: q["metric"] for q in long["metricQueries"] if "metric" in q}
        assert {m["metricName"] for m in metrics.values()} == {
            "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "RequestCount"}
        assert all(set(m["dimensions"]) == {"LoadBalancer"} for m in metrics.values())
        [ratio] = [q for q in long["metricQueries"] if q.get("returnData")]
        assert ratio["expression"] == (f"IF(FILL(requests, 0) + FILL(elb, 0) >= "
                                       f"{int(MIN_REQUESTS_PER_SECOND * burn.long_seconds)}, "
                                       "(FILL(elb, 0) + FILL(targets, 0)) / (FILL(requests, 0) + FILL(elb, 0)), 0)")


@pytest.mark.parametrize("service", sorted(BACKENDS))
def test_latency_and_unhealthy_targets_alarm_per_service(stack_plan, service):
    latency = stack_plan.one(ALARM, f"slo-{service}-latency-p99").inputs
    assert latency["extendedStatistic"] == "p99" and latency["threshold"] == LATENCY_P99_SECONDS[service]
    assert latency["metricName"] == "TargetResponseTime" and latency["alarmActions"] == [topic(stack_plan)]
    unhealthy = stack_plan.one(ALARM, f"slo-{service}-unhealthy-targets").inputs
    assert unhealthy["metricName"] == "UnHealthyHostCount" and unhealthy["threshold"] == 0
    assert unhealthy["comparisonOperator"] == "GreaterThanThreshold"


def test_a_stalled_worker_alarms_even_when_msk_reports_nothing(stack_plan):
    lag = stack_plan.one(ALARM, "slo-worker-consumer-lag").inputs
    assert lag["namespace"] == "AWS/Kafka" and lag["metricName"] == "EstimatedMaxTimeLag"
    assert lag["dimensions"] == {"Cluster Name": stack_settings(stack_plan.stack).cluster.name,
                                 "Consumer Group": CONSUMER_GROUP, "Topic": "events.raw"}
    assert lag["threshold"] == CONSUMER_LAG_SECONDS
    # MSK emits no lag while the group rebalances or has no member: missing data is the failure.
    assert lag["treatMissingData"] == "breaching"


def test_prod_is_checked_from_outside_and_dev_has_nothing_public_to_check(prod_plan, dev_plan):
    check = prod_plan.one("aws:route53/healthCheck:HealthCheck", "slo-public").inputs
    assert (check["type"], check["fqdn"], check["port"], check["resourcePath"]) == (
        "HTTPS", "app.ecomind.example.com", 443, "/")
    alarm = prod_plan.one(ALARM, "slo-public-health-check").inputs
    assert alarm["namespace"] == "AWS/Route53" and alarm["region"] == "us-east-1"
    assert alarm["treatMissingData"] == "breaching" and alarm["alarmActions"] == [topic(prod_plan)]
    assert not dev_plan.of_type("aws:route53/healthCheck:HealthCheck")


def test_the_dashboard_shows_every_service_and_every_alarm_of_the_stack(stack_plan):
    dashboard = stack_plan.one("aws:cloudwatch/dashboard:Dashboard", "slo-dashboard").inputs
    assert dashboard["dashboardName"] == f"ecomind-{stack_plan.stack}" == stack_plan.outputs["dashboard"]
    body = json.loads(dashboard["dashboardBody"])
    text = json.dumps(body)
    for service in BACKENDS:
        assert f"targetgroup/web-{service}-" in text
    [alarms] = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown = {arn.rsplit(":alarm:", 1)[1] for arn in alarms["properties"]["alarms"]}
    planned_names = {a.inputs["name"] for a in stack_plan.of_type(ALARM) if a.inputs.get("alarmActions")}
    planned_names |= {c.inputs["alarmName"] for c in stack_plan.of_type(COMPOSITE)}
    # Exactly the alarms that page: the service levels' and the data tier's.
    assert shown == planned_names and any("-rds-" in n or "-database-" in n for n in shown)
    for widget in body["widgets"]:
        assert {"x", "y", "width", "height", "properties"} <= set(widget)


def test_the_dashboard_shows_the_outside_check_the_pods_and_the_nodes_without_overlap(stack_plan):
    from components.release import DEPLOYMENTS

    body = json.loads(stack_plan.one("aws:cloudwatch/dashboard:Dashboard", "slo-dashboard").inputs["dashboardBody"])
    metrics = [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]
    canary = stack_plan.one("aws:synthetics/canary:Canary").inputs["name"]
    steps = {m[m.index("StepName") + 1] for m in metrics if m[:2] == ["CloudWatchSynthetics", "SuccessPercent"]
             and m[m.index("CanaryName") + 1] == canary}
    assert steps == set(BACKENDS)
    pods = {m[m.index("PodName") + 1] for m in metrics if m[0] == "ContainerInsights" and "PodName" in m}
    assert pods == set(DEPLOYMENTS)
    assert any(m[:2] == ["ContainerInsights", "cluster_node_count"] for m in metrics)
    cells = [(x, y) for w in body["widgets"] for x in range(w["x"], w["x"] + w["width"])
             for y in range(w["y"], w["y"] + w["height"])]
    assert len(cells) == len(set(cells)), "widgets overlap"
    assert all(w["x"] + w["width"] <= 24 for w in body["widgets"])


def test_the_service_levels_are_priced(stack_plan):
    from analyses import cost

    estimate = cost.estimate(stack_plan, cost.Usage.of(stack_settings(stack_plan.stack).cost))
    lines = [line for line in estimate["lines"] if line["component"] == "slo"]
    dimensions = {line["dimension"].split(" (")[0] for line in lines}
    assert {"standard-resolution alarm", "composite alarm", "dashboard beyond the account's first 3"} <= dimensions
    # A burn-rate window evaluates two metrics and pays for both.
    assert any("2 metrics in the alarm" in line["dimension"] for line in lines)


def test_every_paging_alarm_has_a_section_in_the_alarm_runbook(stack_plan):
    import re

    from components.release import DEPLOYMENTS
    from tests.conftest import PROJECT_DIR

    runbook = (PROJECT_DIR / "docs" / "ALARMS.md").read_text()
    prefix = f"ecomind-{stack_plan.stack}-"
    paging = {a.inputs["name"]: a.inputs["alarmDescription"] for a in stack_plan.of_type(ALARM)
              if a.inputs.get("alarmActions")}
    paging |= {c.inputs["alarmName"]: c.inputs["alarmDescription"] for c in stack_plan.of_type(COMPOSITE)}
    services = "|".join(BACKENDS)
    deployments = "|".join(DEPLOYMENTS)
    for name, description in paging.items():
        alarm = re.sub(rf"^({deployments})-", "<deployment>-", name.removeprefix(prefix))
        alarm = re.sub(rf"^({services})-", "<service>-", alarm)
        alarm = re.sub(r"-\d+$", "-<n>", alarm)
        assert f"`{alarm}`" in runbook, (name, alarm)
        if alarm.startswith(("<service>", "<deployment>", "alb", "worker", "public", "synthetic", "nodes")):
            assert "docs/ALARMS.md" in description, name
