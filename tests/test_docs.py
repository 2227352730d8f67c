"""The README and docs/ against the code they describe: each claim here was once wrong."""

import re
import tomllib

import pytest
import yaml

from tests.support.servers import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
INFRASTRUCTURE = (REPO_ROOT / "docs" / "infrastructure.md").read_text()
SERVING = REPO_ROOT / "app" / "lambda_model" / "serving"
LOCAL_SERVER_STATUSES = {400, 414, 431, 505}
"""What http.server answers through ProxyHandler.send_error: a bad request line, a request line over 64 KiB,
a header line over 64 KiB or more than 100 headers, HTTP/2 or later (all `invalid_request`)."""


def error_table() -> dict[str, set[int]]:
    """README's error table: code -> the statuses its rows give it."""
    table: dict[str, set[int]] = {}
    for statuses, codes in re.findall(r"^\| ([\d /]+) \| (`[^|]+`) \|", README, flags=re.MULTILINE):
        for code in re.findall(r"`([a-z_]+)`", codes):
            table.setdefault(code, set()).update(int(status) for status in statuses.split("/"))
    return table


def errors_in_the_code() -> set[tuple[int, str]]:
    source = "\n".join(path.read_text() for path in SERVING.glob("*.py"))
    pairs = re.findall(r"(?:RequestError|error_response)\(\s*(\d{3}),\s*\"([a-z_]+)\"", source)
    assert len(pairs) > 10, "the pattern no longer finds the errors"
    return {(int(status), code) for status, code in pairs}


@pytest.mark.parametrize(("status", "code"), sorted(errors_in_the_code()))
def test_the_readme_error_table_has_every_error_the_code_answers(status, code):
    assert status in error_table().get(code, set()), f"README's error table lacks {status} {code}"


def test_the_readme_error_table_has_the_local_server_s_own_statuses():
    assert error_table()["invalid_request"] == LOCAL_SERVER_STATUSES


def test_the_readme_states_the_image_tag_the_build_pushes():
    action = yaml.safe_load((REPO_ROOT / ".github" / "actions" / "build-image" / "action.yml").read_text())
    export = next(step for step in action["runs"]["steps"] if step.get("id") == "model")
    assert 'echo "tag=${GITHUB_SHA}-${version}"' in export["run"]
    assert "`<commit sha>-<model version>`" in README
    assert "tag = commit SHA" not in README


def test_the_readme_names_every_package_pip_install_installs():
    find = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [pattern.removesuffix("*") for pattern in find["include"]]
    paragraph = README[README.index("`pip install -e .`") :].split("\n\n")[0]
    for package in packages:
        assert f"`{package}`" in paragraph
    assert "installs both" not in README


def test_the_readme_tests_table_has_every_test_folder():
    folders = sorted(path.name for path in (REPO_ROOT / "tests").iterdir() if any(path.glob("test_*.py")))
    for folder in folders:
        assert f"| `tests/{folder}` |" in README, f"README's tests table lacks tests/{folder}"


def by_hand_first_deploy() -> str:
    section = INFRASTRUCTURE[INFRASTRUCTURE.index("## 2. The first deploy") : INFRASTRUCTURE.index("## 3.")]
    return section[section.index("By hand") :]


def test_the_by_hand_first_deploy_exports_a_model_before_it_builds():
    steps = by_hand_first_deploy()
    assert "lambda_model export --model" in steps
    assert steps.index("lambda_model export --model") < steps.index("docker build")
    assert "--to ../app/model" in steps, "exported into the build context"
    assert '-t "$REPO:$TAG" ../app\n' in steps
    assert "metadata.json" in steps, "the tag carries the model version, as the release's does"


def test_the_first_deploy_says_the_first_merge_builds_nothing():
    release = (REPO_ROOT / ".github" / "workflows" / "_release.yml").read_text()
    assert "::warning title=No model yet::" in release
    section = INFRASTRUCTURE[INFRASTRUCTURE.index("## 2. The first deploy") : INFRASTRUCTURE.index("By hand")]
    assert "*No model yet*" in section
    assert "<git-sha>" not in INFRASTRUCTURE


def test_the_teardown_empties_the_versioned_state_bucket_after_moving_the_bootstrap_state_out():
    teardown = INFRASTRUCTURE[INFRASTRUCTURE.index("## Tearing down") :]
    order = ['terraform destroy -var-file="stages/$STAGE.tfvars"', "init -migrate-state", "list-object-versions"]
    order += ["aws s3api delete-objects", "-var registry_force_destroy=true"]
    order += ["terraform destroy -var github_repository"]
    positions = [teardown.index(step) for step in order]
    assert positions == sorted(positions), order
    assert "[Versions, DeleteMarkers]" in teardown, "delete markers too, or the bucket stays non-empty"
    assert "--max-keys 1000" in teardown, "delete-objects takes at most 1,000 keys"
