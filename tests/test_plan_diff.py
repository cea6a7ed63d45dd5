"""The offline plan diff (`make diff`, offline/diff.py): two real commits of a copy of this tree,
planned at each, compared. An image tag changes one input and no cost; a node type changes the
cost; a database engine version lands in the danger list and fails until acknowledged. The
stateful URNs are a contract every plan keeps."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline import diff, replacements
from tests.conftest import PROJECT_DIR, planned

pytestmark = pytest.mark.xdist_group("plan-diff")  # one worker: the base is planned once


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def helm_env() -> dict[str, str]:
    """This environment with helm named absolutely: the copy of the tree has no .venv of its own."""
    helm = Path(os.environ.get("ECOMIND_HELM") or Path(sys.executable).parent / "helm").absolute()
    return {**os.environ, "ECOMIND_HELM": str(helm)}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """This tree as it is (committed or not) as the base commit of a repository of its own."""
    root = tmp_path_factory.mktemp("diff") / "main"
    files = git(PROJECT_DIR, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        source = PROJECT_DIR / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    # The base against itself, through the worktree (this interpreter: the same lock): no change,
    # and the base's plans kept where every test below compares with them.
    result = subprocess.run([sys.executable, "-m", "offline.diff", "--base", "base", "--stack", "dev", "--out",
                             str(root / "out" / "itself")], cwd=root, env=helm_env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "### `dev`: $0.00 a month" in result.stdout and "No change." in result.stdout
    assert not (root / "build" / "diff" / "base-source").exists(), "the worktree is removed after"
    return root


def base_plan(repo: Path) -> Path:
    return diff.base_plans_dir(repo / "build" / "diff", git(repo, "rev-parse", "base")) / "dev.json"


def change(repo: Path, branch: str, path: str, old: str, new: str, *flags: str) -> tuple[int, dict, str, str]:
    """Commit one edit on a branch off the base, run the diff against the base, return (exit code,
    the dev diff, the Markdown, stderr)."""
    git(repo, "checkout", "-q", "-B", branch, "base")
    target = repo / path
    text = target.read_text()
    assert old in text, (path, old)
    target.write_text(text.replace(old, new, 1))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", branch)
    out = repo / "out" / branch
    result = subprocess.run([sys.executable, "-m", "offline.diff", "--base", "base", "--stack", "dev", "--out",
                             str(out), *flags], cwd=repo, env=helm_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 3), result.stderr
    return (result.returncode, json.loads((out / "dev.diff.json").read_text()), (out / "diff.md").read_text(),
            result.stderr)


def test_an_image_tag_change_is_one_input_and_no_cost(repo):
    code, result, text, _ = change(repo, "image-tag", "Pulumi.dev.yaml", '"2026.11.20-3f2a1bc"',
                                   '"2026.11.27-0abc123"')
    assert code == 0
    assert [(u["name"], u["changes"]) for u in result["updated"]] == [
        ("ecomind-release", [{"path": "values.image.tag", "old": "2026.11.20-3f2a1bc", "new": "2026.11.27-0abc123"}])]
    assert result["created"] == result["deleted"] == result["danger"] == []
    assert result["cost"]["delta"] == 0.0
    assert "### `dev`: $0.00 a month; new total $326.57" in text
    assert "`values.image.tag`: `2026.11.20-3f2a1bc` → `2026.11.27-0abc123`" in text


def test_a_node_type_change_shows_its_cost_delta_by_component_and_line(repo):
    code, result, text, _ = change(repo, "node-type", "Pulumi.dev.yaml",
                                   "  ecomind-infra:workloadNodeInstanceTypes:\n    - t4g.large\n",
                                   "  ecomind-infra:workloadNodeInstanceTypes:\n    - t4g.xlarge\n")
    assert code == 0
    cost = result["cost"]
    assert cost["delta"] > 0 and list(cost["components"]) == ["cluster"]
    assert cost["delta"] == pytest.approx(cost["head"] - cost["base"], abs=0.01)
    assert f"+${cost['delta']:,.2f} a month, mostly cluster" in text
    assert any(line["delta"] > 0 and "t4g.xlarge" in line["dimension"] for line in cost["lines"])


def test_a_database_engine_upgrade_is_in_the_danger_list_and_fails_until_acknowledged(repo, tmp_path):
    base = base_plan(repo)
    planned_at = base.stat().st_mtime_ns
    code, result, text, stderr = change(repo, "postgres-18", "settings.py", 'POSTGRES_MAJOR_VERSION = "17"',
                                        'POSTGRES_MAJOR_VERSION = "18"')
    assert base.stat().st_mtime_ns == planned_at, "the base's plans are kept under its SHA, planned once"
    assert code == diff.EXIT_DANGER
    [item] = [d for d in result["danger"] if d["name"] == "database-postgres"]
    assert (item["action"], item["property"]) == ("changes", "engineVersion")
    assert "RDS cannot downgrade" in item["why"] and "rds/instance.go" in item["source"]
    assert text.index("Danger") < text.index("### `dev`"), "the danger list comes first"
    assert "**not acknowledged**" in text and "Acknowledged-Replacement: database-postgres" in stderr
    description = tmp_path / "body.md"
    description.write_text("Moves to PostgreSQL 18.\n\nAcknowledged-Replacement: database-postgres\n")
    # The same two plans again (as the workflow compares the plan job's artifacts), now acknowledged.
    again = subprocess.run([sys.executable, "-m", "offline.diff", "--base-plans", str(base.parent), "--head-plans",
                            str(repo / "build" / "diff" / "head"), "--stack", "dev", "--out", str(tmp_path),
                            "--acknowledgements", str(description)], cwd=repo, capture_output=True, text=True)
    text = (tmp_path / "diff.md").read_text()
    assert again.returncode == 0 and "acknowledged" in text and "**not acknowledged**" not in text


# --- the danger rules, on one plan changed in memory ------------------------------------------------------

@pytest.fixture(scope="module")
def dev_document(repo) -> dict:
    return json.loads(base_plan(repo).read_text())


def edited(document: dict, name: str, **inputs) -> dict:
    changed = copy.deepcopy(document)
    [resource] = [r for r in changed["resources"] if r["name"] == name]
    resource["inputs"].update(inputs)
    return changed


def test_a_property_the_provider_replaces_on_lands_in_the_danger_list_with_its_source(dev_document):
    result = diff.diff_plans(dev_document, edited(dev_document, "cache-valkey", replicationGroupId="ecomind-x"))
    [item] = result["danger"]
    assert (item["action"], item["name"], item["property"]) == ("replaces", "cache-valkey", "replicationGroupId")
    assert "replication_group.go" in item["source"]


def test_a_database_identifier_change_is_in_the_danger_list(dev_document):
    result = diff.diff_plans(dev_document, edited(dev_document, "database-postgres", identifier="ecomind-db-dev"))
    assert [(d["action"], d["property"]) for d in result["danger"]] == [("changes", "identifier")]


def test_a_replaced_key_replaces_the_database_that_takes_its_arn(dev_document):
    result = diff.diff_plans(dev_document, edited(dev_document, "database-storage-key", multiRegion=True))
    assert {(d["action"], d["name"]) for d in result["danger"]} == {("replaces", "database-storage-key"),
                                                                   ("replaces", "database-postgres")}


def test_a_replaced_key_replaces_the_kafka_cluster_through_a_nested_property(dev_document):
    """The plan records dependencies per top-level input (encryptionInfo); the replacing property
    is inside it (encryptionInfo.encryptionAtRestKmsKeyArn)."""
    result = diff.diff_plans(dev_document, edited(dev_document, "streaming-storage-key", multiRegion=True))
    assert ("replaces", "streaming-kafka") in {(d["action"], d["name"]) for d in result["danger"]}


def test_a_rename_without_aliases_deletes_the_old_resource(dev_document):
    renamed = copy.deepcopy(dev_document)
    for resource in renamed["resources"]:
        if resource["name"] == "storage-reports" and resource["type"] == "aws:s3/bucket:Bucket":
            resource["urn"] = resource["urn"].replace("::storage-reports", "::storage-exports")
            resource["name"] = "storage-exports"
    result = diff.diff_plans(dev_document, renamed)
    assert ("deletes", "storage-reports") in {(d["action"], d["name"]) for d in result["danger"]}
    assert [c["name"] for c in result["created"]] == ["storage-exports"]


def test_a_change_that_loses_nothing_has_no_danger(dev_document):
    result = diff.diff_plans(dev_document, edited(dev_document, "database-postgres", instanceClass="db.t4g.large"))
    assert result["danger"] == [] and [u["name"] for u in result["updated"]] == ["database-postgres"]


def test_acknowledgements_are_description_lines_naming_resources_or_stack_resources():
    text = "Why.\nacknowledged-replacement: database-postgres, prod/cache-valkey\nAcknowledged-Replacement:  x y\n"
    assert diff.acknowledgements(text) == {"database-postgres", "prod/cache-valkey", "x", "y"}
    diffs = {"dev": {"danger": [{"name": "cache-valkey"}]}, "prod": {"danger": [{"name": "cache-valkey"}]}}
    assert diff.unacknowledged(diffs, diff.acknowledgements(text)) == [("dev", {"name": "cache-valkey"})]


def test_a_value_secret_on_either_side_is_masked_on_both():
    changes = diff.changed_inputs({"authToken": "plain-before", "port": 6379}, {"authToken": diff.SECRET,
                                                                               "port": 6380})
    assert changes == [{"path": "authToken", "old": diff.SECRET, "new": diff.SECRET},
                       {"path": "port", "old": 6379, "new": 6380}]


# --- names are a contract -------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod", "prod-dr"])
def test_every_stateful_urn_of_the_contract_is_still_planned(stack):
    """A stateful resource renamed without `aliases=` is deleted and created anew. To add one, or
    rename one with its alias, rewrite the contract (`python -m offline.replacements` after
    `make plans`) and review the file's diff."""
    contract = json.loads((PROJECT_DIR / replacements.CONTRACT).read_text())
    assert replacements.stateful_urns(planned(stack).resources) == contract[stack]


def test_each_accounts_bootstrap_stateful_urns_are_in_the_contract_too():
    from offline.plan import BOOTSTRAP_PREFIX, bootstrap_stacks, plan_bootstrap

    contract = json.loads((PROJECT_DIR / replacements.CONTRACT).read_text())
    assert bootstrap_stacks() == ["dev", "prod"]
    for stack in bootstrap_stacks():
        assert replacements.stateful_urns(plan_bootstrap(stack=stack).resources) == contract[BOOTSTRAP_PREFIX + stack]


def test_a_policy_document_is_compared_statement_by_statement():
    old = {"policy": json.dumps({"Statement": [{"Sid": "A", "Resource": ["arn:a/locks/x/*"]}]})}
    new = {"policy": json.dumps({"Statement": [{"Sid": "A", "Resource": ["arn:a/locks/organization/x/*"]}]})}
    assert diff.changed_inputs(old, new) == [{"path": "policy.Statement[0].Resource[0]", "old": "arn:a/locks/x/*",
                                              "new": "arn:a/locks/organization/x/*"}]


def test_every_stateful_type_has_its_replacing_properties_listed():
    """A stateful type with no row would never be called replaced. The in-cluster database's
    Cluster resource is the exception: CloudNativePG applies a spec change in place, rolling the
    instances (its operator, not the provider, decides)."""
    from policies.ecomind_rules import STATEFUL

    assert set(STATEFUL) - set(replacements.REPLACING) == {"kubernetes:postgresql.cnpg.io/v1:Cluster"}
    assert all(rows for rows in replacements.REPLACING.values())


# --- properties of the comparison -------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", diff.SECRET, "{x"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["p", "q", "r"]), inner, max_size=3)), max_leaves=8)
_inputs = st.dictionaries(st.sampled_from(["name", "policy", "tags", "spec"]), _values, max_size=4)


def _without_nulls(value):
    """The same inputs with every null-valued key dropped (Pulumi sends neither), and a JSON string
    read as its document: an oracle written apart from diff.flatten."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _without_nulls(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@settings(max_examples=200, deadline=None)
@given(_inputs, _inputs)
def test_the_comparison_is_empty_exactly_for_equal_inputs_and_symmetric(a, b):
    assert diff.changed_inputs(a, a) == []
    forward, backward = diff.changed_inputs(a, b), diff.changed_inputs(b, a)
    gone = object()
    assert [(c["path"], c.get("old", gone), c.get("new", gone)) for c in forward] == [
        (c["path"], c.get("new", gone), c.get("old", gone)) for c in backward]
    assert (forward == []) == (_without_nulls(a) == _without_nulls(b))
    assert all(c.get("old", gone) != c.get("new", gone) or c["old"] == diff.SECRET for c in forward)


def test_an_input_set_to_null_is_no_change():
    assert diff.changed_inputs({}, {"name": None}) == []


def test_a_rename_with_aliases_is_a_rename_not_a_delete(dev_document):
    renamed = copy.deepcopy(dev_document)
    [bucket] = [r for r in renamed["resources"] if r["name"] == "storage-reports" and r["type"] ==
                "aws:s3/bucket:Bucket"]
    old_urn = bucket["urn"]
    bucket["urn"], bucket["name"], bucket["aliases"] = old_urn.replace("::storage-reports", "::storage-exports"), \
        "storage-exports", [old_urn]
    result = diff.diff_plans(dev_document, renamed)
    assert result["danger"] == [] and result["deleted"] == [] and result["created"] == []
    assert result["renamed"] == [{"old": old_urn, "new": bucket["urn"]}]
    [update] = result["updated"]
    assert update["changes"][0] == {"path": "(urn, through aliases=)", "old": old_urn, "new": bucket["urn"]}


def test_a_stack_only_one_side_has_is_all_created_or_all_deleted(dev_document, tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "head").mkdir()
    (tmp_path / "base" / "dev.json").write_text(json.dumps(dev_document))
    [(stack, gone)] = diff.diff_dirs(tmp_path / "base", tmp_path / "head", ["dev"]).items()
    assert stack == "dev" and gone["created"] == [] and len(gone["deleted"]) == len(dev_document["resources"])
    assert {d["name"] for d in gone["danger"] if d["action"] == "deletes"} >= {"database-postgres", "cache-valkey"}


def test_rendered_objects_are_matched_by_identity_not_position(dev_document):
    more = copy.deepcopy(dev_document)
    objects = more["manifests"]["ecomind-release"]
    objects.insert(0, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": "ecomind"}})
    assert diff.diff_plans(dev_document, more)["rendered"] == {"ecomind-release": 1}


def test_a_change_of_the_critical_path_alone_is_a_change(dev_document):
    slower = copy.deepcopy(dev_document)
    slower["schedule"]["from_scratch"]["minutes"] += 5
    result = diff.diff_plans(dev_document, slower)
    assert not diff.is_empty(result) and "Critical paths: from scratch" in diff.markdown({"dev": result})


def test_an_empty_acknowledgement_line_does_not_take_the_next_line_and_a_full_stop_is_not_a_name():
    text = "Acknowledged-Replacement:\nThis moves the database.\nAcknowledged-Replacement: cache-valkey.\n"
    assert diff.acknowledgements(text) == {"cache-valkey"}
