"""The API boundary the web UI's generated client binds to, enumerated from the app's own
OpenAPI document so that a new route is covered without editing this file:

- every JSON request body refuses an unknown field (a typo such as `gpu_cout` would otherwise
  be dropped silently and the default used) with a 422 that names it;
- operation ids are unique camelCase names and schema names are plain PascalCase (no
  `Body_...` or `Page_RunOut_` spellings), because the client's method and type names come
  from them.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.seed import project_with_one_of_each

TYPO = "gpu_cout"
OPERATION_ID = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)*")
SCHEMA_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """A value of the shape `schema` asks for, meeting the bounds this API's bodies use."""
    schema = resolve(schema, document)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example(options[0], document)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: example(schema["properties"][name], document)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return [example(schema["items"], document)] * schema.get("minItems", 0)
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "string":
        # Letters only: fits every name pattern here; 12 of them pass every minimum length.
        return "abcdefghijkl"
    raise AssertionError(f"no example for schema {schema}")


def body_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, concrete path, JSON body schema) of every operation that takes a JSON body."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                concrete = re.sub(r"\{[^}]+\}", "1", path)
                found.append((method.upper(), concrete, content["application/json"]["schema"]))
    return found


def test_every_request_body_refuses_an_unknown_field_by_name(
    client: TestClient, app: FastAPI
) -> None:
    document = app.openapi()
    operations = body_operations(document)
    assert len(operations) >= 15, "the route table looks incomplete"
    # Id 1 of every kind exists: access to a resource is decided before its body is read.
    assert set(project_with_one_of_each(app, "p").ids().values()) == {1}
    failures = []
    for method, path, schema in operations:
        body = example(schema, document)
        assert isinstance(body, dict), (method, path, body)
        response = client.request(method, path, json=body | {TYPO: 2})
        error = response.json().get("error", {})
        # The only complaint is the unknown field: the rest of the body had the right shape,
        # so the refusal cannot come from something else.
        fields = [f["field"] for f in error.get("fields", [])]
        if response.status_code != 422 or fields != [TYPO] or TYPO not in error["message"]:
            failures.append((method, path, response.status_code, error))
    assert not failures, failures


def test_unknown_field_error_says_what_is_wrong(client: TestClient) -> None:
    response = client.post("/api/v1/projects", json={"name": "p", "descripton": "typo"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == [{"field": "descripton", "message": "Extra inputs are not permitted"}]
    assert "descripton: Extra inputs are not permitted" in error["message"]
    assert client.get("/api/v1/projects").json()["total"] == 0  # nothing was created


def test_operation_ids_are_unique_camel_case_names(app: FastAPI) -> None:
    ids = [
        operation["operationId"]
        for operations in app.openapi()["paths"].values()
        for operation in operations.values()
    ]
    assert len(ids) >= 50, "the route table looks incomplete"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not OPERATION_ID.fullmatch(i)] == []


def test_schema_names_are_plain_and_meaningful(app: FastAPI) -> None:
    names = list(app.openapi()["components"]["schemas"])
    assert "RunPage" in names and "RunCreate" in names
    bad = [n for n in names if n.startswith("Body_") or "__" in n or not SCHEMA_NAME.fullmatch(n)]
    assert bad == []


def test_a_route_without_an_explicit_operation_id_gets_its_function_name_in_camel_case(
    app: FastAPI,
) -> None:
    from visionyard.dashboard.app import operation_id

    @app.get("/api/v1/example-without-id")
    def list_example_things() -> dict[str, str]:
        return {}

    route = next(r for r in app.router.routes if getattr(r, "name", "") == "list_example_things")
    assert operation_id(route) == "listExampleThings"  # type: ignore[arg-type]
    # ...and the app names operations with it: the document says so too.
    document = app.openapi()
    assert document["paths"]["/api/v1/example-without-id"]["get"]["operationId"] == (
        "listExampleThings"
    )
