"""cloudsplaining over IAM policy documents, offline: run in .venv-iam, JSON in, JSON out.

    .venv-iam/bin/python tools/iam_scan.py < documents.json
    .venv-iam/bin/python tools/iam_scan.py --actions < documents.json

Input: a list of {"plan", "name", "policy"}; output: one {"plan", "name", "risk", "finding"}
per finding of cloudsplaining's scan_policy (privilege escalation, resource exposure, data
exfiltration, credentials exposure, infrastructure modification), and the number scanned.
With --actions: every action a statement names (Action or NotAction, wildcards expanded) that
policy_sentry's IAM database does not know, as {"plan", "name", "action"}: a misspelt action in a
Deny denies nothing, in an Allow grants nothing, and IAM accepts both silently.
"""

from __future__ import annotations

import fnmatch
import json
import sys

from cloudsplaining.command.scan_policy_file import scan_policy


def unknown_actions(documents: list[dict]) -> list[dict]:
    from policy_sentry.querying.actions import get_action_data, get_actions_for_service

    found = []
    for document in documents:
        statements = document["policy"].get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            for key in ("Action", "NotAction"):
                actions = statement.get(key, [])
                for action in actions if isinstance(actions, list) else [actions]:
                    if action == "*":
                        continue
                    service, name = action.split(":", 1)
                    if "*" in name:
                        known = any(fnmatch.fnmatchcase(a.split(":", 1)[1].lower(), name.lower())
                                    for a in get_actions_for_service(service) or [])
                    else:
                        known = bool((get_action_data(service, name) or {}).get(service))
                    if not known:
                        found.append({"plan": document["plan"], "name": document["name"], "action": action})
    return found


def main() -> int:
    documents = json.load(sys.stdin)
    if sys.argv[1:] == ["--actions"]:
        json.dump({"checked": len(documents), "unknown": unknown_actions(documents)}, sys.stdout)
        return 0
    findings = []
    for document in documents:
        for risk, result in scan_policy(document["policy"]).items():
            if not isinstance(result, dict) or risk == "ServiceWildcard":
                continue
            for finding in result.get("findings", []):
                findings.append({"plan": document["plan"], "name": document["name"], "risk": risk,
                                 "finding": finding if isinstance(finding, str) else finding.get("type")})
    json.dump({"scanned": len(documents), "findings": findings}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
