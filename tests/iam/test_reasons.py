"""Reasons for unused grants, read from trailing comments in the policy source."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_check.reasons import ReasonError, read_reasons

SOURCE = """
  statements = [
    {
      Sid    = "Push"
      Effect = "Allow"
      Action = [
        "ecr:CreateRepository",
        "ecr:PutImage", "ecr:UploadLayerPart", # unused offline: docker push
      ]
    },
    {
      Sid    = "Keys"
      Action = ["kms:RetireGrant"] # unused offline: ECR calls KMS itself
    },
  ]
"""


def test_the_reasons_of_several_files_are_read_together(tmp_path: Path) -> None:
    first, second = tmp_path / "a.tf", tmp_path / "b.tf"
    first.write_text('Sid = "A"\nAction = ["s3:GetObject"] # unused offline: one\n')
    second.write_text('Sid = "B"\nAction = ["s3:PutObject"] # unused offline: two\n')
    assert read_reasons(first, second) == {("A", "s3:GetObject"): "one", ("B", "s3:PutObject"): "two"}


def test_a_reason_covers_the_actions_on_its_line_in_the_statement_above(tmp_path: Path) -> None:
    source = tmp_path / "iam.tf"
    source.write_text(SOURCE)
    assert read_reasons(source) == {
        ("Push", "ecr:PutImage"): "docker push",
        ("Push", "ecr:UploadLayerPart"): "docker push",
        ("Keys", "kms:RetireGrant"): "ECR calls KMS itself",
    }


@pytest.mark.parametrize(
    "text",
    [
        '  Resource = ["*"] # unused offline: names no action\n',
        '  Action = ["s3:GetObject"] # unused offline: before any Sid\n',
        'Sid = "S"\n  Action = ["s3:GetObject"] # unused offline:\n',
    ],
)
def test_a_reason_that_explains_no_grant_is_refused(tmp_path: Path, text: str) -> None:
    source = tmp_path / "iam.tf"
    source.write_text(text)
    with pytest.raises(ReasonError):
        read_reasons(source)


def test_the_bootstrap_reasons_parse() -> None:
    """The real source: every reason sits next to actions of a statement (stale ones fail test_recorded_calls)."""
    reasons = read_reasons(*sorted((Path(__file__).parents[2] / "terraform" / "bootstrap").glob("*.tf")))
    assert ("PushAndTagImages", "ecr:UploadLayerPart") in reasons
