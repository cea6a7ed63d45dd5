"""cloudsplaining over IAM policy documents, offline: run in .venv-iam, JSON in, JSON out.

    .venv-iam/bin/python tools/iam_scan.py < documents.json

Input: a list of {"plan", "name", "policy"}; output: one {"plan", "name", "risk", "finding"}
per finding of cloudsplaining's scan_policy (privilege escalation, resource exposure, data
exfiltration, credentials exposure, infrastructure modification), and the number scanned.
"""

from __future__ import annotations

import json
import sys

from cloudsplaining.command.scan_policy_file import scan_policy


def main() -> int:
    documents = json.load(sys.stdin)
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
