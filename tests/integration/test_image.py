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
print(json.dumps(sorted(module.__file__ for name, module in sys.modules.items() if name.startswith("lambda_model"))))
"""


def test_the_serving_image_holds_only_the_modules_serving_imports(task_root):
    """No local development server (local_api.py and what only it needs) and no dead module in the image."""
    completed = task_root.python(IMPORTED_BY_SERVING)
    assert completed.returncode == 0, completed.stderr
    imported = {str(Path(path).relative_to(task_root.path)) for path in json.loads(completed.stdout.splitlines()[-1])}
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


def test_the_serving_code_is_compiled_in_the_image(task_root):
    """The task root is read-only in Lambda: code not compiled at build time is compiled on every cold start."""
    sources = sorted((task_root.path / "lambda_model").rglob("*.py"))
    assert sources
    uncompiled = [str(source) for source in sources if not Path(importlib.util.cache_from_source(source)).is_file()]
    assert uncompiled == []
