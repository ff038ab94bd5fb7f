"""The OpenAPI document's error responses and the 405/Allow answers, checked against what the
server does (the live-server schemathesis run in test_contract.py checks the rest).

The error statuses of each operation are derived from its route (`dashboard/openapi.py`); these
tests make sure the derivation is true: every protected operation answers 401 without
credentials and declares it, every operation that answers a non-admin 403 declares it, and the
statuses the services add name real operations.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.conftest import ADMIN_PASSWORD, log_in
from tests.dashboard.test_api_boundary import example
from tests.dashboard.test_security import PUBLIC_ROUTES, concrete
from visionyard.dashboard.openapi import RAISED_BY_SERVICES, SECURITY_SCHEMES

API = "/api/v1"
ERROR_REF = "#/components/schemas/ErrorResponse"


def documented_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_error_response_is_the_one_error_schema(app: FastAPI) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert {"ErrorResponse", "ErrorDetail", "FieldError"} <= set(schemas)
    # FastAPI's default 422 body, which this API never sends, is gone.
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    errors = 0
    for method, path, operation in documented_operations(app):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                errors += 1
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (method, path, status)
                assert response["description"], (method, path, status)
    assert errors > 100


def test_protected_operations_declare_401_and_answer_it(anon: TestClient, app: FastAPI) -> None:
    checked = 0
    for method, path, operation in documented_operations(app):
        response = anon.request(method, concrete(path), json={})
        if (method, path) in PUBLIC_ROUTES:
            assert response.status_code != 401 or "401" in operation["responses"], path
            continue
        checked += 1
        assert response.status_code == 401, (method, path, response.status_code)
        assert "401" in operation["responses"], (method, path)
        assert operation["security"] == [{name: []} for name in SECURITY_SCHEMES], path
    assert checked >= 50


def test_operations_refusing_a_non_admin_declare_403(
    client: TestClient, anon: TestClient, app: FastAPI
) -> None:
    made = client.post(f"{API}/users", json={"username": "ana", "password": "long-password"})
    assert made.status_code == 201, made.text
    log_in(anon, "ana", "long-password")  # and send the session's CSRF token from now on
    refused = []
    for method, path, operation in documented_operations(app):
        if (method, path) in ENDS_THE_SESSION:
            continue  # it would end the session this test goes on with
        response = anon.request(method, concrete(path), json={})
        if response.status_code == 403:
            refused.append((method, path))
            assert response.json()["error"]["code"] == "forbidden"
        # Every route that needs a caller declares 403 (roles, read-only and agent tokens).
        assert ("403" in operation["responses"]) >= (response.status_code == 403), (
            method,
            path,
            response.status_code,
        )
    assert ("GET", f"{API}/users") in refused and ("POST", f"{API}/agents/{{agent_id}}/drain") in (
        refused
    )


#: operations that end the caller's session
ENDS_THE_SESSION = {
    ("POST", f"{API}/auth/logout"),
    ("POST", f"{API}/sessions/revoke-all"),
    ("DELETE", f"{API}/sessions/{{session_id}}"),
}


def test_changes_with_the_session_cookie_declare_403_and_answer_it_without_the_csrf_token(
    client: TestClient, anon: TestClient, app: FastAPI
) -> None:
    login = anon.post(f"{API}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    checked = 0
    for method, path, operation in documented_operations(app):
        if method == "GET" or (method, path) in PUBLIC_ROUTES:
            continue
        response = anon.request(method, concrete(path), json={})
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "csrf"
        assert "403" in operation["responses"], (method, path)
        checked += 1
    assert checked >= 35
    assert anon.get(f"{API}/auth/me").status_code == 200  # nothing ended the session


#: a value for each required query parameter, so that a request gets past validation
REQUIRED_QUERY = {"path": "a.png", "names": "train/step_loss", "from": "1", "to": "2"}
#: a well-formed value for each path parameter that is not an id
PATH_VALUES = {"checkpoint": "best", "name": "best.tar.gz", "index": "0"}
#: operations that inspect a well-formed request's content before looking up its path id
CONTENT_FIRST: set[tuple[str, str]] = set()  # none: access (and so the id) is decided first


def test_operations_with_a_path_id_declare_404_and_answer_it(
    client: TestClient, app: FastAPI
) -> None:
    document = app.openapi()
    missing = 2_000_000_000
    checked = 0
    for method, path, operation in documented_operations(app):
        if "{" not in path:
            continue
        assert "404" in operation["responses"], (method, path)
        # Ids are a missing one; the other path parameters a well-formed value.
        url = re.sub(r"\{([^}]+)\}", lambda m: PATH_VALUES.get(m.group(1), str(missing)), path)
        # A well-formed request (required query parameters and body fields present), so that
        # validation cannot answer 422 before the missing id is looked up.
        params = {
            p["name"]: REQUIRED_QUERY[p["name"]]
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }
        content = operation.get("requestBody", {}).get("content", {})
        if content and "application/json" not in content and "multipart/form-data" not in content:
            # an upload of bytes (importRun's tar, a labelled zip): any bytes will do
            response = client.request(method, url, params=params, content=b"upload")
        elif "multipart/form-data" in content:  # images (testRunModel): any file will do
            response = client.request(method, url, files={"files": ("a.png", b"png")})
        else:
            body = example(content["application/json"]["schema"], document) if content else None
            response = client.request(method, url, params=params, json=body)
        assert response.status_code in (404, 422), (method, path, response.text)
        expected = 422 if (method, path) in CONTENT_FIRST else 404
        assert response.status_code == expected, (method, path, response.text)
        checked += 1
    assert checked >= 40


def test_service_statuses_name_documented_operations(app: FastAPI) -> None:
    documented = {(method, path) for method, path, _ in documented_operations(app)}
    assert set(RAISED_BY_SERVICES) <= documented, set(RAISED_BY_SERVICES) - documented


def test_a_body_that_is_not_json_is_a_declared_400(client: TestClient, app: FastAPI) -> None:
    response = client.post(
        f"{API}/projects", content=b"\xff{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    responses = app.openapi()["paths"][f"{API}/projects"]["post"]["responses"]
    assert "400" in responses


# ---- 405 and Allow -------------------------------------------------------------------------------


def test_undeclared_methods_are_405_with_every_documented_method_allowed(
    client: TestClient, app: FastAPI
) -> None:
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        documented = {method.upper() for method in operations}
        for method in {"OPTIONS", "PUT", "PATCH", "DELETE", "POST"} - documented:
            response = client.request(method, concrete(path))
            assert response.status_code == 405, (method, path, response.text)
            assert set(response.headers["allow"].split(", ")) == documented, (method, path)
            assert response.json()["error"]["code"] == "method_not_allowed"
            checked += 1
    assert checked > 100


def test_pinned_allow_header_and_undeclared_method_answers(client: TestClient) -> None:
    """Found by schemathesis: Starlette's Allow header named only the first route's methods,
    and DELETE /datasets/browse reached /datasets/{dataset_id} and answered 422."""
    options = client.options(f"{API}/projects")
    assert options.status_code == 405 and options.headers["allow"] == "GET, POST"
    delete = client.delete(f"{API}/datasets/browse")
    assert delete.status_code == 405 and delete.headers["allow"] == "GET"
    put = client.put(f"{API}/projects/1", json={})
    assert put.status_code == 405 and put.headers["allow"] == "DELETE, GET, PATCH"
    # Routing is unchanged for documented methods, the concrete path first.
    assert client.get(f"{API}/datasets/browse").status_code == 200
    assert client.get(f"{API}/datasets/browse/x").status_code == 404
