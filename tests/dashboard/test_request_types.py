"""Request bodies accept exactly the JSON types their schema names (found by schemathesis'
negative-data check against the live server, test_contract.py, and pinned here as direct
requests): a boolean is `true` or `false`, never `0`; an integer is a JSON number without a
fraction (`3` or `3.0`), never `false` or `"3"`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.test_fuzz import Seeded, fuzz_dataset_source, operations, seeded
from tests.dashboard.test_security import concrete

__all__ = ["fuzz_dataset_source", "seeded"]  # fixtures this module uses

API = "/api/v1"


def named_fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"].get("fields", [])]


def test_body_fields_refuse_other_json_types(
    client: TestClient, app: FastAPI, seeded: Seeded
) -> None:
    """Found by schemathesis: `is_admin: 0` was read as false, `max_restarts: false` as 0 and
    `priority: "5"` as 5. Every boolean and integer field of every body now refuses the other
    JSON types with a 422 naming it, before anything else is looked at."""
    ids = {"run_id": seeded.finished_run_id, "config_id": seeded.config_id}
    checked = 0
    for op in operations(app):
        url = op.path
        for name, value in ids.items():
            url = url.replace(f"{{{name}}}", str(value))
        url = concrete(url)
        for field_name, types in op.body_fields.items():
            wrong = []
            if "boolean" in types:
                wrong = [0, 1, "true"]
            elif "integer" in types:
                wrong = [False, True, "5"]
            for value in wrong:
                response = client.request(op.method, url, json={field_name: value})
                assert response.status_code == 422, (op.method, op.path, field_name, value)
                assert field_name in named_fields(response), (op.path, field_name, response.text)
                checked += 1
    assert checked >= 30, checked


def test_integral_numbers_are_integers(client: TestClient, seeded: Seeded) -> None:
    """Found by schemathesis: JSON Schema counts 63.0 as an integer, so a strict server must
    too (strictness alone refused it)."""
    response = client.post(
        f"{API}/configs/{seeded.config_id}/runs", json={"gpu_count": 0.0, "priority": 5.0}
    )
    assert response.status_code == 201, response.text
    assert response.json()["priority"] == 5 and response.json()["gpu_count"] == 0
    refused = client.post(f"{API}/configs/{seeded.config_id}/runs", json={"priority": 5.5})
    assert refused.status_code == 422 and "priority" in named_fields(refused)


def test_is_admin_zero_is_refused(client: TestClient) -> None:
    response = client.post(
        f"{API}/users", json={"username": "zero", "password": "long-password", "is_admin": 0}
    )
    assert response.status_code == 422 and "is_admin" in named_fields(response)
    assert all(u["username"] != "zero" for u in client.get(f"{API}/users").json()["items"])
