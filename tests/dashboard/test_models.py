"""Model registry API: sources validated, kind inferred, access tokens write-only and encrypted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.dashboard.test_projects import error_fields
from visionyard.agent.tokens import ModelTokens
from visionyard.dashboard.services.models import check_source_syntax
from visionyard.errors import ConfigError, ModelLoadError

API = "/api/v1"
TOKEN = "hf_SuperSecretTokenValue1234567890"
TOKEN2 = "hf_AnotherSecretTokenValue0987654321"
HUB_SOURCE = "google/vit-base-patch16-224"


def local_model(folder: Path) -> Path:
    """A save_pretrained-shaped folder (the registry only checks config.json is there)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    return folder


def stored_token(app: FastAPI, model_id: int) -> bytes | None:
    with app.state.vy.engine.connect() as conn:
        value = conn.execute(
            text("SELECT token_encrypted FROM model_entries WHERE id = :id"), {"id": model_id}
        ).scalar_one()
    return None if value is None else bytes(value)


def agent_reads_token(app: FastAPI, project_id: int, source: str) -> str | None:
    """The token as an agent reads it for a run of `source`: its own key loading, query and
    decryption, so this proves the agent can use what the dashboard stored."""
    settings = app.state.vy.settings
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    tokens = ModelTokens(app.state.vy.engine, data_dir=settings.data_dir, secret_key=key)
    return tokens.for_model(project_id, source)


def test_token_is_write_only_and_encrypted_at_rest(client: TestClient, app: FastAPI) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    created = client.post(
        f"{API}/projects/{pid}/models",
        json={"name": "vit", "source": HUB_SOURCE, "access_token": TOKEN},
    )
    assert created.status_code == 201, created.text
    model = created.json()
    assert model["kind"] == "hub" and model["has_token"] is True
    assert set(model) == {"id", "project_id", "name", "source", "kind", "has_token", "created_at"}
    mid = model["id"]
    seen = [created]

    ciphertext = stored_token(app, mid)
    assert ciphertext is not None and TOKEN.encode() not in ciphertext
    assert agent_reads_token(app, pid, HUB_SOURCE) == TOKEN

    # Omitting the token keeps it; a rename does not touch it.
    renamed = client.patch(f"{API}/models/{mid}", json={"name": "vit-b"})
    assert renamed.json()["has_token"] is True and stored_token(app, mid) == ciphertext
    seen.append(renamed)
    replaced = client.patch(f"{API}/models/{mid}", json={"access_token": TOKEN2})
    assert replaced.json()["has_token"] is True
    assert agent_reads_token(app, pid, HUB_SOURCE) == TOKEN2
    seen += [
        replaced,
        client.get(f"{API}/models/{mid}"),
        client.get(f"{API}/projects/{pid}/models"),
    ]

    cleared = client.patch(f"{API}/models/{mid}", json={"access_token": None})
    assert cleared.json()["has_token"] is False and stored_token(app, mid) is None
    assert agent_reads_token(app, pid, HUB_SOURCE) is None
    seen.append(cleared)

    for response in seen:
        assert response.status_code in (200, 201)
        for secret in (TOKEN, TOKEN2):
            assert secret not in response.text and "SecretTokenValue" not in response.text
        assert "token_encrypted" not in response.text

    for bad in ("has space", "", "tab\there", "é" * 3):
        response = client.patch(f"{API}/models/{mid}", json={"access_token": bad})
        assert response.status_code == 422 and "access_token" in error_fields(response), bad


def test_local_and_hub_sources(client: TestClient, models_dir: Path) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    folder = local_model(models_dir / "my_model-dir")
    local = client.post(
        f"{API}/projects/{pid}/models", json={"name": "mine", "source": str(folder)}
    )
    assert local.status_code == 201, local.text
    assert local.json()["kind"] == "local" and local.json()["source"] == str(folder.resolve())
    assert local.json()["has_token"] is False

    # Changing the source re-infers the kind.
    switched = client.patch(f"{API}/models/{local.json()['id']}", json={"source": "resnet-50"})
    assert switched.json()["kind"] == "hub" and switched.json()["source"] == "resnet-50"

    (models_dir / "no-config").mkdir()
    (models_dir / "weights.bin").write_bytes(b"x")
    for source, words in (
        (str(models_dir / "missing"), "does not exist"),
        ("missing/deep/folder", "does not exist"),  # relative to the models root
        (str(models_dir / "no-config"), "no config.json"),
        ("no-config", "no config.json"),  # a hub-shaped name the root holds is a folder
        (str(models_dir / "weights.bin"), "is a file"),
        (str(models_dir / ("x" * 300)), "cannot be read"),  # a name too long for the disk
    ):
        response = client.post(f"{API}/projects/{pid}/models", json={"name": "m", "source": source})
        assert response.status_code == 422, source
        error = response.json()["error"]
        assert error["code"] == "invalid_model" and words in error["message"], error
        assert "source" in error["message"]
        if words != "cannot be read":
            assert "VISIONYARD_MODELS_DIR" in error["message"], error

    os.symlink(models_dir / "loop", models_dir / "loop")
    for source in (str(models_dir / "loop"), str(models_dir / "loop" / "inner"), "loop"):
        response = client.post(f"{API}/projects/{pid}/models", json={"name": "m", "source": source})
        assert response.status_code == 422, (source, response.text)
        assert "source" in response.json()["error"]["message"], response.json()
    assert client.get(f"{API}/projects/{pid}/models").json()["total"] == 1


def test_a_kind_says_what_the_source_is_meant_to_be(client: TestClient, models_dir: Path) -> None:
    """Without a kind a bare name the models root lacks is a (legacy) Hub id, so a mistyped
    folder would register as one; `kind: local` refuses it and names the closest folders."""
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    folder = local_model(models_dir / "tiny-resnet")
    url = f"{API}/projects/{pid}/models"

    guessed = client.post(url, json={"name": "typo", "source": "tiny-resnett"})
    assert guessed.status_code == 201 and guessed.json()["kind"] == "hub"
    # (a registered Hub id is offered too: forget this one so the folder is the only match)
    assert client.delete(f"{API}/models/{guessed.json()['id']}").status_code == 204
    for body in (
        {"name": "m", "source": "tiny-resnett", "kind": "local"},
        {"name": "m", "source": "./tiny-resnett"},  # spelled as a path: local without a kind
    ):
        refused = client.post(url, json=body)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "invalid_model" and "does not exist" in error["message"]
        assert "Did you mean 'tiny-resnet'?" in error["message"], error

    local = client.post(url, json={"name": "tiny", "source": "tiny-resnet", "kind": "local"})
    assert local.status_code == 201, local.text
    assert local.json()["kind"] == "local" and local.json()["source"] == str(folder.resolve())

    # kind hub: spelled as a Hub id, and no folder of that name that agents would load instead.
    for source, words in (
        ("tiny-resnet", "also a folder"),
        ("./vit", "not spelled as a Hugging Face Hub id"),
    ):
        refused = client.post(url, json={"name": "h", "source": source, "kind": "hub"})
        assert refused.status_code == 422, refused.text
        assert words in refused.json()["error"]["message"]
        assert error_fields(refused) == ["source"]
    hub = client.post(url, json={"name": "vit", "source": HUB_SOURCE, "kind": "hub"})
    assert hub.status_code == 201 and hub.json()["kind"] == "hub"

    # On update the kind goes with a new source; alone it is refused, naming the field.
    mid = hub.json()["id"]
    alone = client.patch(f"{API}/models/{mid}", json={"kind": "local"})
    assert alone.status_code == 422 and error_fields(alone) == ["kind"]
    typo = client.patch(f"{API}/models/{mid}", json={"source": "tiny-resnt", "kind": "local"})
    assert typo.status_code == 422 and "Did you mean 'tiny-resnet'" in typo.text
    moved = client.patch(f"{API}/models/{mid}", json={"source": "tiny-resnet", "kind": "local"})
    assert moved.status_code == 200 and moved.json()["kind"] == "local"
    assert client.get(f"{API}/models/{mid}").json()["source"] == str(folder.resolve())


def test_local_sources_must_resolve_inside_the_models_root(
    client: TestClient, models_dir: Path, tiny_model, tmp_path: Path
) -> None:
    """S4: a registry entry can only name a folder under VISIONYARD_MODELS_DIR."""
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    inside = tiny_model("resnet")  # a real save_pretrained folder under the models root
    outside = tmp_path / "elsewhere" / "tiny-resnet"
    shutil.copytree(inside, outside)
    sibling = Path(f"{models_dir}-evil") / "model"  # shares the root's spelling, not its folder
    shutil.copytree(inside, sibling)
    (models_dir / "link-out").symlink_to(outside, target_is_directory=True)
    (models_dir / "org").mkdir()
    (models_dir / "org" / "linked").symlink_to(outside, target_is_directory=True)

    kept = client.post(f"{API}/projects/{pid}/models", json={"name": "ok", "source": "a/b"})
    mid = kept.json()["id"]
    for source in (
        str(outside),
        str(sibling),
        "/etc",
        "link-out",
        str(models_dir / "link-out"),
        "org/linked",
        "./org/linked",
    ):
        created = client.post(f"{API}/projects/{pid}/models", json={"name": "m", "source": source})
        updated = client.patch(f"{API}/models/{mid}", json={"source": source})
        for response in (created, updated):
            assert response.status_code == 400, (source, response.text)
            error = response.json()["error"]
            assert error["code"] == "path_outside_root", error
            assert (
                "VISIONYARD_MODELS_DIR" in error["message"] and "Move or copy" in error["message"]
            )
            if "link" in source:  # where a link leads stays private
                assert str(outside) not in error["message"], error
    listed = client.get(f"{API}/projects/{pid}/models").json()
    assert [(m["name"], m["source"]) for m in listed["items"]] == [("ok", "a/b")]

    # Relative to the models root or absolute inside it: stored as the resolved absolute path.
    expected = str(inside.resolve())
    for index, source in enumerate(("tiny-resnet", "./tiny-resnet", str(inside), expected)):
        made = client.post(
            f"{API}/projects/{pid}/models", json={"name": f"in-{index}", "source": source}
        )
        assert made.status_code == 201, (source, made.text)
        assert made.json()["source"] == expected and made.json()["kind"] == "local"
    nested = local_model(models_dir / "team" / "vision" / "v2")
    made = client.post(
        f"{API}/projects/{pid}/models", json={"name": "nested", "source": "team/vision/v2"}
    )
    assert made.status_code == 201 and made.json()["source"] == str(nested.resolve())
    # A link that stays inside the root is followed to its target.
    (models_dir / "current").symlink_to(nested, target_is_directory=True)
    made = client.post(f"{API}/projects/{pid}/models", json={"name": "cur", "source": "current"})
    assert made.status_code == 201 and made.json()["source"] == str(nested.resolve())
    # A hub id the root does not hold stays a hub id.
    hub = client.patch(f"{API}/models/{mid}", json={"source": "google/vit-base-patch16-224"})
    assert hub.json()["kind"] == "hub" and hub.json()["source"] == "google/vit-base-patch16-224"


REFUSED_SOURCES = [
    "https://huggingface.co/google/vit-base-patch16-224",
    "http://evil.example/model",
    "hf://google/vit",
    "file:///etc/passwd",
    "//server/share",
    "../models/vit",
    "org/../../etc",
    "org/na..me",
    "-rf/model",
    "models/--config",
    "google/vit; rm -rf /",
    "google/vit&&id",
    "$(id)",
    "`id`",
    "org/name|cat",
    "name>out",
    "~/models",
    "org/name with space",
    "org/name\nnext",
    "C:\\models\\vit",
    "-rf",
    "org/name%2e%2e",
    "a=b",
    "",
]


def test_refused_sources_name_the_field(client: TestClient) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    mid = client.post(
        f"{API}/projects/{pid}/models", json={"name": "ok", "source": "microsoft/resnet-50"}
    ).json()["id"]
    for source in [*REFUSED_SOURCES, "org/name\x00"]:
        created = client.post(f"{API}/projects/{pid}/models", json={"name": "m", "source": source})
        updated = client.patch(f"{API}/models/{mid}", json={"source": source})
        for response in (created, updated):
            assert response.status_code == 422, (source, response.text)
            assert "source" in error_fields(response), (source, response.json())
    assert client.get(f"{API}/models/{mid}").json()["source"] == "microsoft/resnet-50"


def test_source_rules_match_the_training_core() -> None:
    """The registry accepts exactly the hub ids the trainer's resolve_model_source accepts."""
    from visionyard.modelsource import resolve_model_source

    accepted = ["google/vit-base-patch16-224", "resnet-50", "a/b", "Org_1/x.y-z", "a" * 96]
    for source in accepted:
        assert check_source_syntax(source) == "hub"
        assert resolve_model_source(source) == source
    for source in REFUSED_SOURCES:
        with pytest.raises(ConfigError):
            check_source_syntax(source)
        if source.startswith(("/", "./", "../", "~")) or source.count("/") > 1:
            continue  # path-shaped: the trainer would look on disk, the registry refuses
        with pytest.raises(ModelLoadError):
            resolve_model_source(source)


def test_model_crud_pages_and_errors(client: TestClient) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    other = client.post(f"{API}/projects", json={"name": "o"}).json()["id"]
    for name in ("vit", "convnext", "resnet"):
        made = client.post(
            f"{API}/projects/{pid}/models", json={"name": name, "source": f"x/{name}"}
        )
        assert made.status_code == 201
    dup = client.post(f"{API}/projects/{pid}/models", json={"name": "vit", "source": "x/y"})
    assert dup.status_code == 409
    assert (
        client.post(
            f"{API}/projects/{other}/models", json={"name": "vit", "source": "x/y"}
        ).status_code
        == 201
    )

    listed = client.get(f"{API}/projects/{pid}/models", params={"sort": "name", "order": "asc"})
    assert [m["name"] for m in listed.json()["items"]] == ["convnext", "resnet", "vit"]
    assert listed.json()["total"] == 3
    paged = client.get(f"{API}/projects/{pid}/models", params={"limit": 1, "offset": 1}).json()
    assert [m["name"] for m in paged["items"]] == ["convnext"] and paged["total"] == 3
    found = client.get(f"{API}/projects/{pid}/models", params={"q": "NEX"}).json()
    assert [m["name"] for m in found["items"]] == ["convnext"]

    vit = listed.json()["items"][2]
    assert client.patch(f"{API}/models/{vit['id']}", json={"name": "resnet"}).status_code == 409
    assert client.get(f"{API}/models/999999").status_code == 404
    assert client.patch(f"{API}/models/999999", json={"name": "x"}).status_code == 404
    assert client.delete(f"{API}/models/999999").status_code == 404
    assert client.get(f"{API}/projects/999999/models").status_code == 404
    assert (
        client.post(
            f"{API}/projects/999999/models", json={"name": "x", "source": "a/b"}
        ).status_code
        == 404
    )

    for bad, field in (
        ({"source": "a/b"}, "name"),
        ({"name": "n"}, "source"),
        ({"name": "n", "source": "a/b", "kind": "folder"}, "kind"),
        ({"name": "n", "source": "a" * 1025}, "source"),
    ):
        response = client.post(f"{API}/projects/{pid}/models", json=bad)
        assert response.status_code == 422 and field in error_fields(response), bad

    assert client.delete(f"{API}/models/{vit['id']}").status_code == 204
    assert client.get(f"{API}/models/{vit['id']}").status_code == 404
    # models go with their project
    assert client.delete(f"{API}/projects/{pid}").status_code == 204
    assert client.get(f"{API}/models/{listed.json()['items'][0]['id']}").status_code == 404


def test_model_routes_need_authentication(anon: TestClient) -> None:
    for method, path in (
        ("GET", "/projects/1/models"),
        ("POST", "/projects/1/models"),
        ("GET", "/models/1"),
        ("PATCH", "/models/1"),
        ("DELETE", "/models/1"),
    ):
        kwargs = {"json": {"name": "x", "source": "a/b"}} if method in ("POST", "PATCH") else {}
        assert anon.request(method, f"{API}{path}", **kwargs).status_code == 401, (method, path)
