"""The image's serving stage, assembled from app/Dockerfile without Docker, answers like the function."""

import importlib.util
import json
from pathlib import Path

import pytest

from lambda_model.serving.predictor import Predictor
from rehearsal import image

SEED_ROW = (5.9, 3.0, 5.1, 1.8)

RUN_HANDLER = """
import importlib, json, sys
module_name, function_name = "{handler}".rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
event = {{"body": {{"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}}}}
result = handler(event, None)
heavy = sorted(name for name in ("sklearn", "scipy", "pandas") if name in sys.modules)
print(json.dumps({{"result": result, "heavy_modules": heavy}}))
"""


@pytest.fixture(scope="module")
def task_root(tmp_path_factory, model_dir):
    return image.assemble("serving", tmp_path_factory.mktemp("task-root"), model_dir)


def test_the_serving_stage_installs_only_the_serving_requirements():
    assert [path.name for path in image.requirements_files("serving")] == ["requirements.txt"]
    assert [path.name for path in image.requirements_files("training")] == ["requirements-train.txt"]


def test_the_image_handler_answers_the_seed_invoke_without_scikit_learn(task_root, model_dir):
    assert task_root.handler == "lambda_model.serving.handler.handler"
    assert task_root.environment["MODEL_URI"] == str(task_root.path / "model")
    completed = task_root.python(RUN_HANDLER.format(handler=task_root.handler))
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout.splitlines()[-1])
    assert output["result"]["statusCode"] == 200
    (offline,) = Predictor(model_dir).predict([SEED_ROW])
    assert output["result"]["body"] == json.dumps({"prediction": offline.as_dict()})
    assert output["heavy_modules"] == []


def test_scikit_learn_is_not_even_installed_in_the_image(task_root):
    installed = {path.name.split("-")[0].lower() for path in task_root.path.glob("*.dist-info")}
    assert {"numpy", "onnxruntime"} <= installed
    assert not installed & {"scikit_learn", "scipy", "pandas", "skl2onnx"}


def test_the_serving_image_holds_no_training_cli_or_release_code(task_root):
    package = task_root.path / "lambda_model"
    modules = sorted(str(path.relative_to(package)) for path in package.rglob("*.py"))
    assert {path.split("/")[0] for path in modules} == {"__init__.py", "contract.py", "registry", "serving"}
    assert not (task_root.path / "lambda_release").exists()
    assert not (task_root.path / "train.py").exists()


IMPORTED_BY_SERVING = """
import json, sys
import lambda_model.serving.handler  # the function, with the model in the image
import lambda_model.serving.offline  # predict.py, the seed's script
# The two stores open_store() picks from, imported only when MODEL_URI names a store (s3://... or a folder).
import lambda_model.registry.local_store, lambda_model.registry.s3_store
for event in ({EVENTS}):  # what answering imports: a prediction, /health, /openapi.json
    assert lambda_model.serving.handler.handler(event, None)["statusCode"] == 200
print(json.dumps(sorted(path for module in list(sys.modules.values()) if (path := getattr(module, "__file__", None)))))
"""
SERVING_EVENTS = (
    {"body": {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}},
    {"httpMethod": "GET", "path": "/health"},
    {"httpMethod": "GET", "path": "/openapi.json"},
)


@pytest.fixture(scope="module")
def imported_by_serving(task_root) -> list[Path]:
    """The files of every module the image's code imports to start and to answer, from the task root alone."""
    completed = task_root.python(IMPORTED_BY_SERVING.replace("{EVENTS}", repr(SERVING_EVENTS)))
    assert completed.returncode == 0, completed.stderr
    files = [Path(path) for path in json.loads(completed.stdout.splitlines()[-1])]
    return [path.relative_to(task_root.path) for path in files if path.is_relative_to(task_root.path)]


def test_the_serving_image_holds_only_the_modules_serving_imports(task_root, imported_by_serving):
    """No local development server (local_api.py and what only it needs) and no dead module in the image."""
    imported = {str(path) for path in imported_by_serving if path.parts[0] == "lambda_model"}
    shipped = {str(path.relative_to(task_root.path)) for path in (task_root.path / "lambda_model").rglob("*.py")}
    assert "lambda_model/serving/local_api.py" not in shipped
    assert shipped == imported


def test_the_seed_predict_script_runs_in_the_serving_image(task_root):
    record = '{"sepal_length": 5.4, "sepal_width": 3, "petal_length": null, "petal_width": 0.2}'
    script = task_root.path / "predict.py"
    completed = task_root.python(
        f"import runpy, sys; sys.argv = ['predict.py', {record!r}]; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    assert completed.returncode == 0, completed.stderr
    assert "'petal_length': None" in completed.stdout


def test_everything_serving_imports_is_compiled_in_the_image(task_root, imported_by_serving):
    """The task root is read-only in Lambda: a module not compiled at build time is compiled on every cold start.
    The image compiles all but the packages' tests and tools, which serving must then never import."""
    sources = [task_root.path / path for path in imported_by_serving if path.suffix == ".py"]
    assert {path.parts[0] for path in imported_by_serving} >= {"lambda_model", "numpy", "onnxruntime"}
    uncompiled = [str(source) for source in sources if not Path(importlib.util.cache_from_source(source)).is_file()]
    assert uncompiled == []


def test_the_image_leaves_uncompiled_only_what_serving_never_imports(task_root):
    """14 MiB of .pyc the image does not carry: tests, build tools and onnxruntime's converters stay source."""
    assert not list((task_root.path / "numpy" / "_core" / "tests").rglob("*.pyc"))
    assert not list((task_root.path / "onnxruntime" / "transformers").rglob("*.pyc"))
    assert list((task_root.path / "numpy" / "random").rglob("*.pyc"))  # numpy's API, even what serving skips
