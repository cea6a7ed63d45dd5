"""The capacity model (analyses/capacity.py) and the office hours that stop dev at night
(components/office_hours.py), as both stacks plan them, and what each does when the plan is wrong."""

from __future__ import annotations

import dataclasses
import json

import pytest

import settings
from analyses import capacity, cost
from tests.conftest import as_list, planned, policy, stack_settings, statements

SCHEDULE = "aws:scheduler/schedule:Schedule"
TIERS = {"gateway requests", "api requests", "ui requests", "worker events", "kafka ingress per broker",
         "kafka partitions per broker", "kafka storage per broker", "database connections", "database storage",
         "database cpu", "cache memory"}


def section(plan):
    return capacity.analyse(plan)


def test_every_tier_of_both_stacks_carries_the_small_enterprise_load_with_headroom(stack_plan):
    found = section(stack_plan)
    assert found["load"] == dataclasses.asdict(stack_settings(stack_plan.stack).load)
    assert found["load"]["ingest_calls_per_day"] == 100_000
    rows = {r["tier"]: r for r in found["rows"]}
    assert set(rows) == TIERS
    assert found["failures"] == []
    assert all(r["headroom"] >= 1 for r in rows.values()), {t: r["headroom"] for t, r in rows.items()}
    assert found["summary"][0].startswith("Capacity at the busiest minute")


def test_the_in_cluster_engine_is_judged_on_its_connections():
    plan = planned("prod", ("databaseEngine=timescaledb",))
    rows = {r["tier"]: r for r in section(plan)["rows"]}
    assert rows["database connections"]["capacity"] == 300  # components/timescale.py MAX_CONNECTIONS
    assert section(plan)["failures"] == []


def test_database_connections_count_the_rollout_surge_and_need_a_fifth_to_spare():
    """dev on db.t4g.micro (about 100 connections): the api and worker pools at their HPA maximum
    plus the rollout's surge (6 + 2 pods x 15) do not fit; at 1.1x they would fit but still fail."""
    micro = planned("dev", ("databaseInstanceClass=db.t4g.micro",))
    [row] = [r for r in capacity.rows(micro, micro.settings["load"]) if r.tier == "database connections"]
    assert row.load == (6 + 2) * capacity.CONNECTIONS_PER_PROCESS + 1 + capacity.OPERATOR_CONNECTIONS
    failures = section(micro)["failures"]
    assert any(f.startswith("capacity: database connections below 1.2x the load") for f in failures), failures
    tight = dataclasses.replace(row, capacity=row.load * 1.1)
    assert tight.headroom > 1 and tight.short


def test_peak_rates_follow_the_load_settings():
    peaks = capacity.peak_rates({"ingest_calls_per_day": 864_000, "api_calls_per_day": 86_400, "peak_factor": 5,
                             "event_bytes": 1024})
    assert peaks == {"ingest": 50.0, "api": 5.0, "ui": 1.0}


def test_a_tier_below_its_load_fails_the_plan(dev_plan):
    """Ten times the medium load (10M ingest calls a day): the gateway's replicas and the worker
    no longer keep up, and each says so in one line."""
    heavy = dataclasses.replace(dev_plan, settings={**dev_plan.settings, "load": {
        **dev_plan.settings["load"], "ingest_calls_per_day": 10_000_000}})
    failures = section(heavy)["failures"]
    assert any(f.startswith("capacity: gateway requests below the load") for f in failures), failures
    assert any(f.startswith("capacity: worker events below the load") for f in failures), failures


def test_a_tier_far_over_its_load_names_the_next_size_down(prod_plan):
    advisories = section(prod_plan)["advisories"]
    assert any(a.startswith("cache memory") and "cache.t4g.micro" in a for a in advisories), advisories
    assert section(prod_plan)["failures"] == []


def test_medium_load_fits_with_the_sizes_the_readme_gives_for_it():
    """README's medium example: 1M ingest and 500k api calls a day on prod's sizes with more
    workload nodes and api replicas allowed."""
    plan = planned("prod", ("loadIngestCallsPerDay=1000000", "loadApiCallsPerDay=500000"))
    assert section(plan)["failures"] == []


# --- Office hours --------------------------------------------------------------------------------

def schedules(plan) -> dict[str, dict]:
    return {s.inputs["name"]: s.inputs for s in plan.of_type(SCHEDULE)}


def test_dev_stops_every_node_group_its_database_and_canary_outside_office_hours(dev_plan, prod_plan):
    hours = stack_settings("dev").office_hours
    assert (hours.days, hours.start_hour, hours.end_hour) == ("MON-FRI", 7, 19)
    found = schedules(dev_plan)
    groups = [g.inputs["nodeGroupName"] for g in dev_plan.of_type("eks:index:ManagedNodeGroup")]
    for group in groups:
        stop = json.loads(found[f"{group}-stop"]["target"]["input"])
        start = json.loads(found[f"{group}-start"]["target"]["input"])
        assert stop["ScalingConfig"]["DesiredSize"] == stop["ScalingConfig"]["MinSize"] == 0
        assert start["ScalingConfig"]["MaxSize"] == stop["ScalingConfig"]["MaxSize"] >= 1
        assert stop["ClusterName"] == start["ClusterName"] == "ecomind-infra-dev" and stop["NodegroupName"] == group
        assert found[f"{group}-stop"]["scheduleExpression"] == "cron(5 19 ? * MON-FRI *)"
        assert found[f"{group}-start"]["scheduleExpression"] == "cron(0 7 ? * MON-FRI *)"
    for schedule in found.values():
        assert schedule["scheduleExpressionTimezone"] == hours.timezone and schedule["kmsKeyArn"]
        assert schedule["target"]["arn"].startswith("arn:aws:scheduler:::aws-sdk:")
    prefix = "ecomind-infra-dev-"
    assert {f"{prefix}database-stop", f"{prefix}database-start", f"{prefix}canary-stop", f"{prefix}canary-start",
            f"{prefix}alarms-quiet", f"{prefix}alarms-wake"} <= set(found)
    quiet = json.loads(found[f"{prefix}alarms-quiet"]["target"]["input"])["AlarmNames"]
    assert set(quiet) == {"ecomind-dev-synthetic-check", "ecomind-dev-worker-consumer-lag"}
    # Every alarm that counts missing data as breaching goes quiet with the stack.
    breaching = {a.inputs["name"] for a in dev_plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                 if a.inputs.get("treatMissingData") == "breaching" and a.inputs.get("alarmActions")}
    assert breaching == set(quiet)
    assert not prod_plan.of_type(SCHEDULE)


def test_a_stack_stopped_at_night_backs_up_in_its_working_day(dev_plan, prod_plan):
    [database] = dev_plan.of_type("aws:rds/instance:Instance")
    assert database.inputs["backupWindow"] == "11:00-11:30"  # 11:00 in London in winter, 12:00 in summer
    assert database.inputs["maintenanceWindow"] == "mon:12:00-mon:12:30"
    assert prod_plan.one("aws:rds/instance:Instance").inputs["backupWindow"] == "03:00-04:00"
    new_york = settings.OfficeHours("MON", "FRI", 7, 19, "America/New_York")
    assert new_york.backup_window == "16:00-16:30"  # 11:00 EST, 12:00 EDT


def test_the_scheduler_role_acts_on_exactly_the_stacks_groups_database_canary_and_alarms(dev_plan):
    document = policy(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "office-hours-role"), "policy")
    resources = [r for s in statements(document) for r in as_list(s["Resource"])]
    assert "*" not in resources
    groups = [g.inputs["nodeGroupName"] for g in dev_plan.of_type("eks:index:ManagedNodeGroup")]
    assert {f"arn:aws:eks:us-east-1:111122223333:nodegroup/ecomind-infra-dev/{g}/*" for g in groups} <= set(resources)
    assert "arn:aws:rds:us-east-1:111122223333:db:ecomind-infra-dev" in resources
    [trust] = statements(policy(dev_plan.one("aws:iam/role:Role", "office-hours-role"), "assumeRolePolicy"))
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    # Scheduler presents the schedule group's ARN (its user guide, "Confused deputy prevention").
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == (
        "arn:aws:scheduler:us-east-1:111122223333:schedule-group/ecomind-infra-dev-office-hours")


def test_the_cost_model_bills_stopped_hours_at_nothing(dev_plan):
    estimate = cost.estimate(dev_plan, cost.Usage(**dev_plan.settings["usage"]))
    share = stack_settings("dev").office_hours.running_fraction
    assert share == pytest.approx(60 / 168)
    nodes = [line for line in estimate["lines"] if line["resource"].startswith("cluster-") and line["unit"] == "hour"
             and ("on-demand" in line["dimension"] or "spot" in line["dimension"])]
    assert nodes and all("of the week" in line["dimension"] for line in nodes)
    # A group's hours are its desired nodes for the share of the week between its start and stop.
    for line in nodes:
        group = dev_plan.one("eks:index:ManagedNodeGroup", line["resource"])
        running = cost.running_fraction(dev_plan, "eks:", "NodegroupName", group.inputs["nodeGroupName"])
        assert running == pytest.approx(share, rel=0.01)
        assert line["quantity"] == pytest.approx(group.inputs["scalingConfig"]["desiredSize"] * 730 * running,
                                                 abs=0.01)
    database = next(line for line in estimate["lines"] if line["resource"] == "database-postgres"
                    and line["unit"] == "hour")
    # stopped from 19:05 to 07:00: a little over office hours' 60 of 168 hours
    assert database["quantity"] == pytest.approx(730 * (5 * (19 + 5 / 60 - 7)) / 168, abs=0.01)
    assert database["quantity"] == pytest.approx(730 * share, rel=0.01)
    assert cost.running_fraction(planned("prod"), "eks:", "NodegroupName", "any") == 1.0


@pytest.mark.parametrize("value,stack", [("MON-FRI 19-07", "dev"), ("FRI-MON 07-19", "dev"), ("weekdays", "dev"),
                                         ("MON-FRI 07-19", "prod")])
def test_office_hours_are_refused_when_malformed_or_in_prod(value, stack):
    from tests.conftest import minimal_config

    with pytest.raises(settings.ConfigError) as refused:
        settings.load(minimal_config(stack, officeHours=value), stack="unit", region="us-east-1")
    assert str(refused.value).startswith("invalid setting 'ecomind-infra:officeHours'")
