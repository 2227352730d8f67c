"""parliament (Duo Labs' IAM linter, with AWS's action and resource data) over every rendered policy.

It catches what a hand-written policy gets wrong without any call being made: unknown actions, resource
ARNs that do not fit the action's resource types, `*`-only actions scoped narrower, condition keys and
types the action does not take. Any finding fails the test.
"""

from __future__ import annotations

import json

import parliament

from iam_check.rendered import BootstrapPolicies


def findings(document: dict) -> list[tuple[str, str]]:
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=False)
    return [(finding.issue, str(finding.detail)) for finding in policy.findings]


def test_rendered_policies_have_no_findings(bootstrap: BootstrapPolicies) -> None:
    found = {address: findings(document) for address, document in bootstrap.documents.items()}
    assert {address: issues for address, issues in found.items() if issues} == {}


def test_the_linter_reports_the_defect_this_check_exists_for() -> None:
    """DescribeLogGroups on named log groups (the refresh AccessDenied) is a finding, so the lint has teeth."""
    narrowed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": "arn:aws:logs:eu-central-1:123456789012:log-group:x",
            }
        ],
    }
    assert "RESOURCE_MISMATCH" in [issue for issue, _ in findings(narrowed)]
