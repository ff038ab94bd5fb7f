"""Configs API: validation with field-level 422s, immutable versions, history, diff, clone,
delete; root/model_flavour/placement rules; authentication on every route."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from visionyard.dashboard.routers import configs as configs_router
from visionyard.training.config import build_config
from visionyard.training.confighash import config_hash

API = "/api/v1"


# ---- helpers shared with the runs/options tests --------------------------------------------------


def datasets_dir(app: FastAPI) -> Path:
    return app.state.vy.settings.datasets_root


def runs_dir(app: FastAPI) -> Path:
    return app.state.vy.settings.runs_root


def make_project(client: TestClient, name: str = "proj") -> int:
    response = client.post(f"{API}/projects", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def error_fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"].get("fields", [])]


def assert_routes_need_auth(anon: TestClient, router: APIRouter) -> int:
    """Every route of `router`, without credentials and with a wrong token: 401. Returns how
    many (method, path) pairs were checked."""
    checked = 0
    for route in router.routes:
        path = API + route.path
        for name in ("project_id", "config_id", "run_id", "agent_id", "version"):
            path = path.replace("{" + name + "}", "1")
        for method in sorted(route.methods):
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            assert anon.request(method, path, **kwargs).status_code == 401, (method, path)
            bad = anon.request(method, path, headers={"Authorization": "Bearer vy_nope"}, **kwargs)
            assert bad.status_code == 401, (method, path)
            assert bad.json()["error"]["code"] == "unauthenticated"
            checked += 1
    return checked


@pytest.fixture
def dataset(app: FastAPI, small_dataset: Path) -> str:
    """A real ImageFolder dataset under DATASETS_DIR; returns its name (relative path)."""
    shutil.copytree(small_dataset, datasets_dir(app) / "small")
    return "small"


@pytest.fixture
def make_data(dataset: str, tiny_model: Callable[[str], Path]) -> Callable[..., dict]:
    """make_data(**changes) -> a valid TrainConfig dict for the dashboard."""
    model = str(tiny_model("resnet"))

    def make(**changes: Any) -> dict:
        return {"root": dataset, "model_flavour": model, "epochs": 1, "batch_size": 8} | changes

    return make


@pytest.fixture
def project(client: TestClient) -> int:
    return make_project(client)


def create(client: TestClient, project_id: int, data: dict, name: str = "baseline") -> Any:
    # Python's json module writes NaN/Infinity tokens (httpx's json= refuses them): the server
    # must cope with what a careless client sends.
    body = json.dumps({"name": name, "data": data, "message": "m"})
    return client.post(
        f"{API}/projects/{project_id}/configs",
        content=body,
        headers={"Content-Type": "application/json"},
    )


# ---- create, read, version history ---------------------------------------------------------------


def test_create_stores_the_validated_config_and_its_hash(
    client: TestClient, app: FastAPI, project: int, make_data
) -> None:
    response = create(client, project, make_data(lr=0.01, loss_name="CE"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["latest_version"] == 1 and [v["version"] for v in body["versions"]] == [1]
    data = body["latest"]["data"]
    # The full validated config (defaults included, aliases normalised), root made absolute.
    assert data == build_config(data).model_dump(mode="json")
    assert data["loss_name"] == "cross_entropy" and data["optimizer"] == "adamw"
    assert data["root"] == str(datasets_dir(app) / "small")
    assert body["latest"]["config_hash"] == config_hash(data)
    got = client.get(f"{API}/configs/{body['id']}").json()
    assert got["latest"] == body["latest"] and got["project_id"] == project


def test_versions_are_immutable_with_history_and_diff(
    client: TestClient, project: int, make_data
) -> None:
    config_id = create(client, project, make_data()).json()["id"]
    v1 = client.get(f"{API}/configs/{config_id}/versions/1").json()

    saved = client.put(
        f"{API}/configs/{config_id}", json={"data": make_data(lr=0.01), "message": "faster"}
    )
    assert saved.status_code == 200 and saved.json()["created"] is True
    assert saved.json()["latest_version"] == 2
    third = client.put(
        f"{API}/configs/{config_id}",
        json={"data": make_data(lr=0.01, epochs=5, train_preset="strong"), "message": "longer"},
    ).json()
    assert third["latest_version"] == 3 and third["latest"]["message"] == "longer"

    # Identical to the latest (same canonical hash, other key order): a no-op, documented.
    same = client.put(
        f"{API}/configs/{config_id}",
        json={"data": dict(reversed(make_data(lr=0.01, epochs=5, train_preset="strong").items()))},
    )
    assert same.status_code == 200 and same.json()["created"] is False
    assert same.json()["latest_version"] == 3

    # Version 1 is unchanged by the later saves.
    assert client.get(f"{API}/configs/{config_id}/versions/1").json() == v1

    page = client.get(f"{API}/configs/{config_id}/versions", params={"order": "asc"}).json()
    assert page["total"] == 3 and [v["version"] for v in page["items"]] == [1, 2, 3]
    assert [v["message"] for v in page["items"]] == ["m", "faster", "longer"]
    newest = client.get(f"{API}/configs/{config_id}/versions", params={"limit": 1}).json()
    assert [v["version"] for v in newest["items"]] == [3]

    diff = client.get(f"{API}/configs/{config_id}/diff", params={"from": 1, "to": 3}).json()
    assert diff["from_version"] == 1 and diff["to_version"] == 3
    assert {c["key"]: (c["old"], c["new"]) for c in diff["changed"]} == {
        "lr": (0.0003, 0.01),
        "epochs": (1, 5),
        "train_preset": ("standard", "strong"),
    }
    assert diff["added"] == [] and diff["removed"] == []
    back = client.get(f"{API}/configs/{config_id}/diff", params={"from": 3, "to": 1}).json()
    assert {c["key"]: c["new"] for c in back["changed"]}["lr"] == 0.0003
    assert (
        client.get(f"{API}/configs/{config_id}/diff", params={"from": 2, "to": 2}).json()["changed"]
        == []
    )

    # Reverting to version 1's data is new history (version 4), with version 1's hash.
    reverted = client.put(f"{API}/configs/{config_id}", json={"data": make_data()}).json()
    assert reverted["latest_version"] == 4
    assert reverted["latest"]["config_hash"] == v1["config_hash"]

    assert client.get(f"{API}/configs/{config_id}/versions/9").status_code == 404
    missing = client.get(f"{API}/configs/{config_id}/diff", params={"from": 1, "to": 9})
    assert missing.status_code == 404 and "versions 1..4" in missing.json()["error"]["message"]
    assert client.get(f"{API}/configs/{config_id}/diff", params={"from": 1}).status_code == 422


def test_diff_reports_added_and_removed_keys() -> None:
    from visionyard.dashboard.services.configs import diff_data

    changed, added, removed = diff_data({"a": 1, "b": 2, "n": {"x": 1}}, {"a": 1, "c": 3, "n": {}})
    assert changed == [{"key": "n", "old": {"x": 1}, "new": {}}]
    assert added == [{"key": "c", "new": 3}]
    assert removed == [{"key": "b", "old": 2}]


# ---- validation ----------------------------------------------------------------------------------


def test_invalid_configs_are_422_with_every_field_named(
    client: TestClient, project: int, make_data
) -> None:
    bad = create(
        client,
        project,
        make_data(lr=-1, epochs="many", optimzer="sgd", monitor_metric="bogus")
        | {"output_dir": "/tmp/elsewhere", "tb_root": "/tmp/tb", "ckpt_dir": "/x", "run_name": "a"},
    )
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_config"
    fields = set(error_fields(bad))
    assert {"lr", "epochs", "optimzer", "monitor_metric"} <= fields
    assert {"output_dir", "tb_root", "ckpt_dir", "run_name"} <= fields
    assert "did you mean 'optimizer'" in error["message"]

    missing = create(client, project, {"epochs": 1})
    assert missing.status_code == 422 and {"root", "model_flavour"} <= set(error_fields(missing))

    # Defaults of the placement fields are accepted (a full schema dump round-trips).
    ok = create(
        client,
        project,
        make_data(output_dir="runs", tb_root=None, ckpt_dir=None, run_name=None, resume="never"),
    )
    assert ok.status_code == 201, ok.text

    for data, field in (
        (make_data(resume="/tmp/some/checkpoint"), "resume"),
        (make_data(class_labels=["a\x00b", "c"]), "class_labels.0"),
        (make_data(max_grad_norm=float("inf")), "max_grad_norm"),
        (make_data(class_weights=[1.0, float("nan"), 1.0]), "class_weights.1"),
        (make_data(seed=2**40), "seed"),
        (make_data(class_labels=["\ud800"]), "class_labels.0"),  # no database can store it
        (make_data(label2id={"a\udc80": 0}), "label2id"),
        (make_data(root="a" * 5000), "root"),  # longer than any file name: no OSError leaks
        (make_data(model_flavour="m" * 5000), "model_flavour"),
        # an unknown key "" with a value beyond 64 bits: the error still names a field
        ({**make_data(), "": 2**70}, "<config>"),
    ):
        response = create(client, project, data, name="x")
        assert response.status_code == 422, (field, response.text)
        assert field in error_fields(response), (field, response.json())

    # The body itself: data must be an object, the name bounded.
    assert create(client, project, ["not", "a", "dict"]).status_code == 422  # type: ignore[arg-type]
    assert create(client, project, make_data(), name="").status_code == 422
    assert create(client, project, make_data(), name="n\x00").status_code == 422


def test_root_must_resolve_inside_datasets_dir(
    client: TestClient, app: FastAPI, project: int, make_data, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (datasets_dir(app) / "link-out").symlink_to(outside, target_is_directory=True)
    for root in ("../outside", str(outside), "/etc", "small/../../outside", "link-out"):
        response = create(client, project, make_data(root=root))
        assert response.status_code == 400, (root, response.text)
        assert response.json()["error"]["code"] == "path_outside_root"
        assert "DATASETS_DIR" in response.json()["error"]["message"]

    missing = create(client, project, make_data(root="no-such-dataset"))
    assert missing.status_code == 422 and error_fields(missing) == ["root"]

    absolute_inside = create(client, project, make_data(root=str(datasets_dir(app) / "small")))
    assert absolute_inside.status_code == 201
    nested = create(client, project, make_data(root="small/./"), name="nested")
    assert nested.json()["latest"]["data"]["root"] == str(datasets_dir(app) / "small")


def test_model_flavour_is_a_hub_id_or_a_folder_under_the_models_root(
    client: TestClient, project: int, make_data, models_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    hub = create(client, project, make_data(model_flavour="google/vit-base-patch16-224"))
    assert hub.status_code == 201
    assert hub.json()["latest"]["data"]["model_flavour"] == "google/vit-base-patch16-224"

    (models_dir / "not-a-model").mkdir()
    (models_dir / "weights.bin").write_bytes(b"x")
    for flavour in (
        "https://evil.example/model",
        "../models/x",
        "a/b/c",  # relative to the models root, which does not hold it
        "org/name; rm -rf /",
        "$(reboot)",
        "org/name`id`",
        "two words",
        "~/models",
        "-rf",
        str(models_dir / "not-a-model"),  # no config.json
        "not-a-model",
        str(models_dir / "weights.bin"),  # a file
        "",
    ):
        response = create(client, project, make_data(model_flavour=flavour), name="m")
        assert response.status_code == 422, (flavour, response.text)
        assert error_fields(response) == ["model_flavour"], (flavour, response.json())

    # The dashboard's working directory plays no part: a bare name is a folder under the models
    # root (or a Hub id the project registered), never one beside the dashboard process.
    shutil.copytree(Path(make_data()["model_flavour"]), tmp_path / "cwd-model")
    monkeypatch.chdir(tmp_path)
    cwd = create(client, project, make_data(model_flavour="cwd-model"), name="cwd")
    assert cwd.status_code == 422, cwd.text
    assert error_fields(cwd) == ["model_flavour"] and "VISIONYARD_MODELS_DIR" in cwd.text


def test_model_flavour_must_resolve_inside_the_models_root(
    client: TestClient, project: int, make_data, models_dir: Path, tmp_path: Path
) -> None:
    """S4: a config can only name a local model folder under VISIONYARD_MODELS_DIR."""
    inside = Path(make_data()["model_flavour"])  # a real save_pretrained folder under the root
    assert inside.is_relative_to(models_dir)
    outside = tmp_path / "elsewhere" / "model"
    shutil.copytree(inside, outside)
    sibling = Path(f"{models_dir}-evil") / "model"
    shutil.copytree(inside, sibling)
    (models_dir / "link-out").symlink_to(outside, target_is_directory=True)
    for flavour in (str(outside), str(sibling), "link-out", str(models_dir / "link-out")):
        response = create(client, project, make_data(model_flavour=flavour))
        assert response.status_code == 400, (flavour, response.text)
        error = response.json()["error"]
        assert error["code"] == "path_outside_root"
        assert "model_flavour" in error["message"] and "VISIONYARD_MODELS_DIR" in error["message"]
    assert client.get(f"{API}/projects/{project}/configs").json()["total"] == 0

    for index, flavour in enumerate((inside.name, f"./{inside.name}", str(inside))):
        response = create(client, project, make_data(model_flavour=flavour), name=f"in-{index}")
        assert response.status_code == 201, (flavour, response.text)
        assert response.json()["latest"]["data"]["model_flavour"] == str(inside.resolve())

    # Saving a new version is checked the same way, and leaves the history untouched.
    config_id = client.get(f"{API}/projects/{project}/configs").json()["items"][0]["id"]
    saved = client.put(
        f"{API}/configs/{config_id}", json={"data": make_data(model_flavour=str(outside))}
    )
    assert saved.status_code == 400 and saved.json()["error"]["code"] == "path_outside_root"
    assert client.get(f"{API}/configs/{config_id}").json()["latest_version"] == 1


def test_a_mistyped_local_model_name_is_refused_naming_the_closest_folder(
    client: TestClient, project: int, make_data, models_dir: Path
) -> None:
    """A typo in a local model name is a 422 when the config is saved, naming the folder it
    was probably meant to be and where models go, not a Hub error when the run starts."""
    assert (models_dir / "tiny-resnet" / "config.json").is_file()  # from make_data
    root = str(models_dir.resolve())
    for typo, meant in (
        ("tiny-resnett", "tiny-resnet"),  # bare name: a local folder by the rule
        ("./tiny-resnett", "tiny-resnet"),  # a path
        (f"{models_dir}/tiny-resnett", "tiny-resnet"),  # an absolute path
    ):
        response = create(client, project, make_data(model_flavour=typo), name="typo")
        assert response.status_code == 422, (typo, response.text)
        assert error_fields(response) == ["model_flavour"], response.json()
        message = response.json()["error"]["fields"][0]["message"]
        assert f"Did you mean {meant!r}?" in message, message
        assert "VISIONYARD_MODELS_DIR" in message and root in message, message
    bare = create(client, project, make_data(model_flavour="tiny-resnett"), name="typo")
    rule = bare.json()["error"]["fields"][0]["message"]
    assert "a name without '/'" in rule and "'org/name'" in rule, rule
    # Nothing close: still refused, with where to put models and how Hub ids are written.
    far = create(client, project, make_data(model_flavour="zzzzzz"), name="far")
    assert far.status_code == 422 and "Did you mean" not in far.text
    assert "VISIONYARD_MODELS_DIR" in far.text and "'org/name'" in far.text
    assert client.get(f"{API}/projects/{project}/configs").json()["total"] == 0

    # The existing local name is accepted (stored resolved); so are Hub ids written org/name,
    # even one whose name is close to a local folder.
    good = create(client, project, make_data(model_flavour="tiny-resnet"), name="good")
    assert good.status_code == 201, good.text
    assert good.json()["latest"]["data"]["model_flavour"] == str(models_dir / "tiny-resnet")
    for index, hub_id in enumerate(("google/vit-base-patch16-224", "org/tiny-resnett")):
        made = create(client, project, make_data(model_flavour=hub_id), name=f"hub-{index}")
        assert made.status_code == 201, (hub_id, made.text)
        assert made.json()["latest"]["data"]["model_flavour"] == hub_id

    # Saving a new version is checked the same way and leaves the history as it was.
    config_id = good.json()["id"]
    saved = client.put(
        f"{API}/configs/{config_id}", json={"data": make_data(model_flavour="tiny-resnett")}
    )
    assert saved.status_code == 422 and "Did you mean 'tiny-resnet'?" in saved.text
    assert client.get(f"{API}/configs/{config_id}").json()["latest_version"] == 1


def test_registry_models_are_accepted_and_suggested(
    client: TestClient, project: int, make_data, tiny_model
) -> None:
    """A bare Hub id (the Hub's legacy spelling) is usable once the project registers it; a
    registered local folder is usable by its name; both are offered as suggestions."""
    tiny_model("convnext")
    for name, source in (("resnet", "resnet-50"), ("convnext", "tiny-convnext")):
        made = client.post(
            f"{API}/projects/{project}/models", json={"name": name, "source": source}
        )
        assert made.status_code == 201, made.text
    for index, source in enumerate(("resnet-50", "tiny-convnext")):
        response = create(client, project, make_data(model_flavour=source), name=f"r{index}")
        assert response.status_code == 201, (source, response.text)
    typo = create(client, project, make_data(model_flavour="resnet-5O"), name="typo")
    assert typo.status_code == 422 and "Did you mean 'resnet-50'" in typo.text, typo.text
    # Registered in one project only: another project's config may not name it bare.
    other = make_project(client, "other")
    refused = create(client, other, make_data(model_flavour="resnet-50"))
    assert refused.status_code == 422 and error_fields(refused) == ["model_flavour"]
    assert "register" in refused.json()["error"]["fields"][0]["message"]


def test_clone_queue_and_requeue_check_the_model_again(
    client: TestClient, project: int, make_data, models_dir: Path
) -> None:
    """A model folder removed after the config was saved: cloning that version, queueing a run
    of it and re-queueing a run of it are refused with a 422 naming model_flavour, not left to
    fail on an agent."""
    config_id = create(client, project, make_data()).json()["id"]
    assert client.post(f"{API}/configs/{config_id}/clone", json={"name": "ok"}).status_code == 201
    run = client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0}).json()
    assert client.post(f"{API}/runs/{run['id']}/cancel").status_code == 200
    shutil.rmtree(models_dir / "tiny-resnet")
    clone = client.post(f"{API}/configs/{config_id}/clone", json={"name": "copy"})
    queued = client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0})
    requeued = client.post(f"{API}/runs/{run['id']}/requeue")
    for response, saved_as in ((clone, "version 1"), (queued, "version 1"), (requeued, "run ")):
        assert response.status_code == 422, response.text
        assert error_fields(response) == ["model_flavour"], response.json()
        message = response.json()["error"]["message"]
        assert saved_as in message and "does not exist" in message, message
        assert "Save a new version" in message, message
    assert client.get(f"{API}/projects/{project}/configs").json()["total"] == 2
    assert client.get(f"{API}/runs", params={"project_id": project}).json()["total"] == 1


# ---- list, clone, delete, errors -----------------------------------------------------------------


def test_list_filters_sorts_and_pages(client: TestClient, project: int, make_data) -> None:
    for name in ("beta", "alpha", "gamma-x", "delta-x"):
        assert create(client, project, make_data(), name=name).status_code == 201
    other = make_project(client, "other")
    create(client, other, make_data(), name="alpha")  # same name, other project: fine

    listed = client.get(
        f"{API}/projects/{project}/configs", params={"sort": "name", "order": "asc"}
    ).json()
    assert listed["total"] == 4
    assert [c["name"] for c in listed["items"]] == ["alpha", "beta", "delta-x", "gamma-x"]
    found = client.get(f"{API}/projects/{project}/configs", params={"q": "-X"}).json()
    assert sorted(c["name"] for c in found["items"]) == ["delta-x", "gamma-x"]
    paged = client.get(f"{API}/projects/{project}/configs", params={"limit": 1, "offset": 1})
    assert paged.json()["total"] == 4 and len(paged.json()["items"]) == 1
    assert client.get(f"{API}/projects/{project}/configs", params={"q": "%"}).json()["total"] == 0

    assert client.get(f"{API}/projects/{project}/configs", params={"sort": "id"}).status_code == 422
    assert client.get(f"{API}/projects/999/configs").status_code == 404
    assert client.get(f"{API}/projects/{2**40}/configs").status_code == 422
    assert create(client, 999, make_data()).status_code == 404
    dup = create(client, project, make_data(), name="beta")
    assert dup.status_code == 409 and "already has a config named 'beta'" in dup.text


def test_the_list_says_when_each_config_last_changed_and_how_often_it_ran(
    client: TestClient, project: int, make_data
) -> None:
    """The configs page shows "last saved" and a runs count per config without a request per
    config: the list carries both (runs of every version count; other configs' do not)."""
    busy = create(client, project, make_data(), name="busy").json()
    idle = create(client, project, make_data(), name="idle").json()
    saved = client.put(f"{API}/configs/{busy['id']}", json={"data": make_data(lr=0.01)}).json()
    for version in (1, 2, 2):
        queued = client.post(
            f"{API}/configs/{busy['id']}/runs", json={"version": version, "gpu_count": 0}
        )
        assert queued.status_code == 201, queued.text

    listed = {c["name"]: c for c in client.get(f"{API}/projects/{project}/configs").json()["items"]}
    assert (listed["busy"]["run_count"], listed["idle"]["run_count"]) == (3, 0)
    assert listed["busy"]["updated_at"] == saved["latest"]["created_at"]
    assert listed["idle"]["updated_at"] == idle["latest"]["created_at"]
    assert listed["busy"]["latest_version"] == 2


def test_clone_copies_a_version_into_a_new_config(
    client: TestClient, project: int, make_data
) -> None:
    config_id = create(client, project, make_data()).json()["id"]
    client.put(f"{API}/configs/{config_id}", json={"data": make_data(lr=0.02)})
    latest = client.post(f"{API}/configs/{config_id}/clone", json={"name": "copy"})
    assert latest.status_code == 201
    body = latest.json()
    assert body["id"] != config_id and body["latest_version"] == 1
    assert body["latest"]["data"]["lr"] == 0.02
    assert "cloned from 'baseline' version 2" in body["latest"]["message"]
    first = client.post(f"{API}/configs/{config_id}/clone", json={"name": "v1", "version": 1})
    assert first.json()["latest"]["data"]["lr"] == 0.0003
    assert client.post(f"{API}/configs/{config_id}/clone", json={"name": "copy"}).status_code == 409
    assert (
        client.post(
            f"{API}/configs/{config_id}/clone", json={"name": "z", "version": 7}
        ).status_code
        == 404
    )
    assert client.post(f"{API}/configs/999/clone", json={"name": "z"}).status_code == 404


def test_delete_and_unknown_ids(client: TestClient, project: int, make_data) -> None:
    config_id = create(client, project, make_data()).json()["id"]
    assert client.delete(f"{API}/configs/{config_id}").status_code == 204
    for method, path in (
        ("GET", f"/configs/{config_id}"),
        ("GET", f"/configs/{config_id}/versions"),
        ("GET", f"/configs/{config_id}/versions/1"),
        ("DELETE", f"/configs/{config_id}"),
    ):
        assert client.request(method, API + path).status_code == 404, path
    assert client.put(f"{API}/configs/{config_id}", json={"data": make_data()}).status_code == 404
    assert client.get(f"{API}/configs/0").status_code == 422
    assert client.get(f"{API}/configs/{2**31}").status_code == 422
    # The name is free again.
    assert create(client, project, make_data()).status_code == 201


def test_config_routes_need_authentication(anon: TestClient) -> None:
    assert assert_routes_need_auth(anon, configs_router.router) == 9
