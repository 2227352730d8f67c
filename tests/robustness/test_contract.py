"""docs/openapi.yaml is valid OpenAPI, and the running local API answers as it says, for good and bad requests.

Every response is matched to the operation the spec gives for its method and path (or to the
NotFound / MethodNotAllowed responses when the spec has none): its status must be documented there,
its body must validate against that response's schema, and its required headers must be present.
For prediction requests the spec's request schema and the service must also agree on what is valid.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from lambda_model.serving.request import MAX_BATCH_SIZE, MAX_BODY_BYTES
from tests.robustness.conftest import GENERATED, TALLY
from tests.robustness.strategies import records
from tests.support import servers
from tests.support.request_cases import CASES, SEED, check_answer
from tests.unit.test_local_api import exchange

SPEC_PATH = servers.REPO_ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:lambda-model:openapi"
JSON_CONTENT = "application~1json"


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Contract:
    """Look up what docs/openapi.yaml promises for a method, path and status, and check a response against it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, DRAFT202012))

    def node(self, pointer: str) -> Any:
        node: Any = self.spec
        for token in filter(None, pointer.split("/")):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return node

    def follow(self, pointer: str) -> str:
        """The pointer to the object at `pointer`, after following its `$ref`s."""
        while "$ref" in self.node(pointer):
            pointer = self.node(pointer)["$ref"].removeprefix("#")
        return pointer

    def validator(self, schema_pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{SPEC_URI}#{schema_pointer}"}, registry=self.registry)

    def response_pointer(self, method: str, path: str, status: int) -> str:
        route = path.rstrip("/") or "/"  # the service ignores a trailing slash, as the spec says
        if route not in self.spec["paths"]:
            return self.follow("/components/responses/NotFound")
        operation = f"/paths/{escape(route)}/{method.lower()}"
        if method.lower() not in self.spec["paths"][route]:
            return self.follow("/components/responses/MethodNotAllowed")
        documented = self.node(f"{operation}/responses")
        assert str(status) in documented, f"{method} {path} answered {status}, not documented in {sorted(documented)}"
        return self.follow(f"{operation}/responses/{status}")

    def check(self, method: str, path: str, response: requests.Response) -> None:
        self.check_answer(method, path, response.status_code, response.headers, response.json())

    def check_answer(self, method: str, path: str, status: int, headers: Mapping[str, str], body: Any) -> None:
        pointer = self.response_pointer(method, path, status)
        assert headers["Content-Type"] == "application/json"
        self.validator(f"{pointer}/content/{JSON_CONTENT}/schema").validate(body)
        for name in self.node(pointer).get("headers", {}):
            header_pointer = self.follow(f"{pointer}/headers/{escape(name)}")
            if self.node(header_pointer).get("required"):
                assert name in headers, f"{method} {path}: the spec requires the {name} header"
                self.validator(f"{header_pointer}/schema").validate(headers[name])

    def accepts_prediction_request(self, body: Any) -> bool:
        pointer = self.follow("/paths/~1predict/post/requestBody")
        return self.validator(f"{pointer}/content/{JSON_CONTENT}/schema").is_valid(body)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def contract(spec: dict[str, Any]) -> Contract:
    return Contract(spec)


def send(root: str, method: str, path: str, body: bytes | None = None) -> requests.Response:
    TALLY["contract requests to the local API"] += 1
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return requests.request(method, root + path, data=body, headers=headers, timeout=30)


def test_the_description_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_the_spec_states_the_service_limits(spec, contract):
    batch = contract.node(contract.follow("/components/schemas/Batch"))
    assert batch["maxItems"] == MAX_BATCH_SIZE
    assert (
        f"{MAX_BODY_BYTES:,}" in contract.node(contract.follow("/components/requestBodies/Prediction"))["description"]
    )


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_the_request_table_gets_documented_answers(served_api, contract, case):
    """The table the handler is checked with (tests/unit/test_handler.py), this time over HTTP."""
    response = send(served_api, case.method, case.path, case.body)
    contract.check(case.method, case.path, response)
    check_answer(case, response.status_code, response.headers, response.json())
    if case.method != "POST" or case.path.rstrip("/") not in ("", "/predict") or case.status not in (200, 400, 413):
        return
    try:
        document = json.loads(case.body)
    except ValueError:
        return  # not JSON at all: no schema could accept it
    too_large = len(case.body) > MAX_BODY_BYTES
    assert contract.accepts_prediction_request(document) == (case.status == 200 and not too_large), case.id


def test_the_spec_and_the_service_agree_on_generated_records(served_api, contract):
    @settings(GENERATED, max_examples=200)
    @given(payload=st.one_of(records(), st.lists(records(), min_size=0, max_size=3)))
    def property_(payload):
        TALLY["generated cases at the local API"] += 1
        text = json.dumps(payload)  # NaN and Infinity become the non-JSON literals a careless client sends
        response = send(served_api, "POST", "/predict", text.encode())
        contract.check("POST", "/predict", response)
        strict_json = not any(literal in text for literal in ("NaN", "Infinity"))  # no such literal in JSON
        expected_valid = strict_json and contract.accepts_prediction_request(json.loads(text))
        assert (response.status_code == 200) == expected_valid, (payload, response.text)

    property_()


@pytest.fixture(scope="module")
def unavailable_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local API with a model that cannot be loaded: every model-backed answer is a 503."""
    port = servers.free_port()
    root = f"http://127.0.0.1:{port}"
    missing: Path = tmp_path_factory.mktemp("no-model") / "not-there"
    command = [sys.executable, "-m", "lambda_model", "serve", "--port", str(port), "--model", str(missing)]
    with servers.running(command, f"{root}/health", env=servers.cli_env()):
        yield root


@pytest.mark.parametrize(("method", "path", "payload"), [("GET", "/health", None), ("POST", "/predict", SEED)])
def test_an_unavailable_model_is_a_documented_503(unavailable_api, contract, method, path, payload):
    response = send(unavailable_api, method, path, None if payload is None else json.dumps(payload).encode())
    assert response.status_code == 503
    contract.check(method, path, response)


# Requests http.server refuses before the handler, each sent so that the server reads all of it (bytes left
# unread when it closes could reset the connection before its answer is read).
LINE_LIMIT = 65536
REFUSED_BEFORE_THE_HANDLER = [
    pytest.param("GET", "/health", b"GET /health?" + b"x" * (LINE_LIMIT - 11), 414, id="a request line too long"),
    pytest.param(
        "POST",
        "/predict",
        b"POST /predict HTTP/1.1\r\nX-Long: " + b"x" * (LINE_LIMIT - 7),
        431,
        id="a header line too long",
    ),
    pytest.param(
        "GET", "/health", b"GET /health HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 101, 431, id="more than 100 headers"
    ),
    pytest.param("POST", "/predict", b"POST /predict HTTP/2.0\r\n", 505, id="HTTP/2.0"),
    pytest.param(
        "GET", "/health", b"GET /health HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, id="a bad Content-Length"
    ),
]


@pytest.mark.parametrize(("method", "path", "raw", "status"), REFUSED_BEFORE_THE_HANDLER)
def test_a_request_the_local_server_refuses_gets_a_documented_answer(served_api, contract, method, path, raw, status):
    TALLY["contract requests to the local API"] += 1
    head, body = exchange(served_api, raw)
    status_line, *header_lines = head.decode().split("\r\n")
    assert status_line.startswith(f"HTTP/1.1 {status} "), status_line
    headers = dict(line.split(": ", 1) for line in header_lines)
    contract.check_answer(method, path, status, headers, json.loads(body))
