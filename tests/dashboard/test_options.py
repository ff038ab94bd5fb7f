"""Options API: the TrainConfig JSON Schema and the select lists of the config form."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.test_configs import API, assert_routes_need_auth, make_project
from visionyard.dashboard.routers import options as options_router
from visionyard.db.models import ModelEntry
from visionyard.training.config import TRAIN_PRESETS, build_config, config_json_schema
from visionyard.training.metric_registry import monitor_choices


def test_train_config_schema_is_the_models_schema(client: TestClient) -> None:
    response = client.get(f"{API}/options/train-config-schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema == config_json_schema()
    assert {"root", "model_flavour"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_every_listed_choice_is_accepted_by_the_validator(client: TestClient) -> None:
    options = client.get(f"{API}/options").json()
    assert options["models"] is None
    assert [p["value"] for p in options["train_presets"]] == list(TRAIN_PRESETS)
    assert all(p["description"] for p in options["train_presets"])
    assert set(options["optimizers"]) == {"adamw", "adam", "sgd"}
    base = {"root": "r", "model_flavour": "org/model"}
    for field, key in (
        ("optimizer", "optimizers"),
        ("scheduler", "schedulers"),
        ("loss_name", "losses"),
        ("autocast_dtype", "autocast_dtypes"),
        ("monitor_metric", "monitor_metrics"),
        ("monitor_mode", "monitor_modes"),
    ):
        assert options[key], key
        for value in options[key]:
            assert getattr(build_config(base | {field: value}), field) == value
    # Derived, not copied: the form offers exactly the registry's monitor candidates.
    assert options["monitor_metrics"] == monitor_choices()
    for preset in options["train_presets"]:
        assert (
            build_config(base | {"train_preset": preset["value"]}).train_preset == preset["value"]
        )


def test_options_list_a_projects_registered_models(client: TestClient, app: FastAPI) -> None:
    project = make_project(client)
    other = make_project(client, "other")
    with app.state.vy.sessions() as session, session.begin():
        session.add_all(
            [
                ModelEntry(project_id=project, name="vit", source="google/vit", kind="hub"),
                ModelEntry(project_id=project, name="local", source="/models/x", kind="local"),
                ModelEntry(project_id=other, name="elsewhere", source="org/y", kind="hub"),
            ]
        )
    models = client.get(f"{API}/options", params={"project_id": project}).json()["models"]
    assert [(m["name"], m["source"], m["kind"]) for m in models] == [
        ("local", "/models/x", "local"),
        ("vit", "google/vit", "hub"),
    ]
    assert all("token" not in key for m in models for key in m)
    assert client.get(f"{API}/options", params={"project_id": 999}).status_code == 404
    assert client.get(f"{API}/options", params={"project_id": 2**40}).status_code == 422


def test_option_routes_need_authentication(anon: TestClient) -> None:
    assert assert_routes_need_auth(anon, options_router.router) == 2
