"""S5 (docs/reliability.md): one corpus of traversal payloads against every route that takes a
file-system path, on SQLite and PostgreSQL.

The routes are found from the app's own OpenAPI document (every parameter or body field named
`path`), plus the other inputs that name folders (a config's `root`, a model's `source`, a
dataset class name) and the URL path itself. Secrets are planted outside every root: a file
beside the roots, sibling folders whose names start with a root's name (`<root>-evil/`), and
real symbolic links from inside the roots to them. Every answer must be a 4xx, and no response
body may ever carry a secret's content.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.dashboard import test_fuzz
from tests.dashboard.test_fuzz import API, Seeded

# The seeded project, dataset, config, runs and files (see test_fuzz.seed_everything).
fuzz_dataset_source = test_fuzz.fuzz_dataset_source
seeded = test_fuzz.seeded

SECRET = "VISIONYARD-S5-SECRET-7f3a9c"
PASSWD_LINE = b"root:x:0:0"
#: routes serving or reading files by a user-given path (operationId -> where the path goes)
EXPECTED_PATH_ROUTES = {
    "browseDatasets": "query",
    "getDatasetThumbnail": "query",
    "getRunFiles": "query",
    "createDataset": "body",
}


def plant_secret_folder(folder: Path) -> None:
    """A folder that looks like a dataset and a model (so only the root check can refuse it),
    holding the secret as text and inside a PNG."""
    for split in ("train", "val"):
        image = folder / split / "a" / "x.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (1, 2, 3)).save(image)
    folder.joinpath("secret.txt").write_text(SECRET)
    info = PngInfo()
    info.add_text("secret", SECRET)
    Image.new("RGB", (8, 8), (4, 5, 6)).save(folder / "secret.png", pnginfo=info)
    folder.joinpath("config.json").write_text(json.dumps({"secret": SECRET}))


@dataclass(frozen=True)
class Planted:
    outside: Path
    datasets_root: Path
    runs_root: Path
    run_folder: Path
    dataset_folder: Path


@pytest.fixture
def planted(app: FastAPI, seeded: Seeded, tmp_path: Path) -> Planted:
    settings = app.state.vy.settings
    datasets_root, runs_root = settings.datasets_root, settings.runs_root
    outside = tmp_path / "outside"
    for folder in (
        outside,
        Path(f"{datasets_root}-evil"),  # sibling prefixes: refused by is_relative_to, not
        Path(f"{runs_root}-evil"),  # by a string prefix test
        Path(f"{seeded.run_folder}-evil"),  # inside the runs root, outside the run folder
        Path(f"{seeded.dataset_folder}-evil"),  # inside DATASETS_DIR, outside the dataset
    ):
        plant_secret_folder(folder)
    # Real symbolic links from inside each root to the secrets.
    (datasets_root / "link-out").symlink_to(outside, target_is_directory=True)
    (seeded.dataset_folder / "link-out").symlink_to(outside, target_is_directory=True)
    (seeded.dataset_folder / "train" / "0" / "link.png").symlink_to(outside / "secret.png")
    (seeded.run_folder / "link-out").symlink_to(outside, target_is_directory=True)
    (seeded.run_folder / "link.txt").symlink_to(outside / "secret.txt")
    (seeded.run_folder / "loop").symlink_to(seeded.run_folder / "loop")
    return Planted(outside, datasets_root, runs_root, seeded.run_folder, seeded.dataset_folder)


def payloads(p: Planted) -> list[str]:
    """The corpus: every entry must be refused wherever a path is taken."""
    secret, secret_png = p.outside / "secret.txt", p.outside / "secret.png"
    deep = [("../" * k) + "outside/secret.txt" for k in range(1, 9)]
    corpus = [
        *deep,
        # percent-encoded, once and twice (sent raw, the server decodes once)
        *[("..%2f" * k) + "outside%2fsecret.txt" for k in (1, 2, 3, 4)],
        *[("%2e%2e/" * k) + "outside/secret.txt" for k in (2, 3)],
        "%2e%2e%2f%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
        "%252e%252e%252f%252e%252e%252f%252e%252e%252foutside%252fsecret.txt",
        "..%252f..%252f..%252foutside%252fsecret.txt",
        "%2e%2e%5c%2e%2e%5coutside%5csecret.txt",
        # absolute
        str(secret),
        str(secret_png),
        str(p.outside),
        "/etc/passwd",
        "//etc/passwd",
        "/proc/self/environ",
        "/",
        "%2fetc%2fpasswd",
        # Windows spellings and backslashes
        "C:\\Windows\\win.ini",
        "C:/Windows/win.ini",
        "\\\\server\\share\\secret.txt",
        "..\\..\\outside\\secret.txt",
        "..\\..\\..\\..\\etc\\passwd",
        "train\\..\\..\\..\\outside\\secret.txt",
        # filters that strip '../' once
        "....//....//....//outside/secret.txt",
        "..././..././..././outside/secret.txt",
        ".../.../outside/secret.txt",
        # NUL
        "../../outside/secret.txt\x00.png",
        "train/0/x.png\x00/../../../outside/secret.txt",
        "%00../../outside/secret.txt",
        "../../outside/secret.txt%00.png",
        "\x00",
        # Unicode look-alikes and overlong UTF-8
        "\uff0e\uff0e/\uff0e\uff0e/outside/secret.txt",
        "..\uff0f..\uff0foutside\uff0fsecret.txt",
        "\u2024\u2024/\u2024\u2024/outside/secret.txt",
        "%c0%ae%c0%ae/%c0%ae%c0%ae/outside/secret.txt",
        "%e0%80%ae%e0%80%ae/outside/secret.txt",
        "..\u2215..\u2215outside\u2215secret.txt",
        "..\u29f5..\u29f5outside\u29f5secret.txt",
        # sibling folders sharing a root's name as prefix
        f"../{p.datasets_root.name}-evil/secret.txt",
        f"../../{p.datasets_root.name}-evil/secret.txt",
        f"../{p.runs_root.name}-evil/secret.txt",
        f"../../{p.runs_root.name}-evil/secret.txt",
        f"../{p.run_folder.name}-evil/secret.txt",
        f"../{p.dataset_folder.name}-evil/secret.png",
        f"{p.datasets_root}-evil/secret.txt",
        f"{p.runs_root}-evil/secret.txt",
        f"{p.run_folder}-evil/secret.txt",
        f"{p.dataset_folder}-evil/secret.png",
        # real symbolic links leading out (present in the root they are planted in)
        "link-out/secret.txt",
        "link-out/secret.png",
        "link-out",
        "link.txt",
        "train/0/link.png",
        "loop/x",
        # very long
        "a/" * 600,
        "../" * 400 + "etc/passwd",
        "x" * 300 + "/secret.txt",
        "y" * 5000,
        # home folders and variables
        "~",
        "~/secret.txt",
        "~root/.bashrc",
        "$HOME/.ssh/id_rsa",
        # URLs
        f"file://{secret}",
        "file:///etc/passwd",
        f"file:{secret}",
        "http://127.0.0.1:8000/api/v1/health",
        # query-string and dot-segment tricks
        "../x&path=../../outside/secret.txt",
        "../../outside/secret.txt#.png",
        "..;/..;/outside/secret.txt",
        "../../outside/secret.txt?.png",
        "../../outside/secret.txt/.",
        "./../../outside/secret.txt",
        "train/../../../outside/secret.txt",
        ".//..//..//outside//secret.txt",
        "train/0/../../../../outside/secret.txt",
    ]
    assert len(corpus) >= 60 and len(set(corpus)) == len(corpus)
    return corpus


def raw_query(value: str) -> str:
    """`value` put into a URL as written: existing %-escapes, '&', '#' and '?' keep their
    meaning (the server decodes once); only what a URL cannot hold is escaped."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="/%&=?#;:~$\\")


@dataclass
class Checker:
    client: TestClient
    requests: int = 0

    def __post_init__(self) -> None:
        self.failures: list[str] = []

    def check(
        self, label: str, method: str, url: str, *, refused: bool = True, **kwargs: Any
    ) -> None:
        """Send one request: never a secret in the body, and (when `refused`) a 4xx."""
        self.requests += 1
        try:
            response = self.client.request(method, url, **kwargs)
        except Exception as exc:  # noqa: BLE001 - an exception escaping the app is a failure
            self.failures.append(f"{label}: raised {type(exc).__name__}: {exc}"[:300])
            return
        if refused and not 400 <= response.status_code < 500:
            self.failures.append(f"{label}: {response.status_code} {response.text[:150]}")
        if SECRET.encode() in response.content or PASSWD_LINE in response.content:
            self.failures.append(f"{label}: a secret's content is in the response")


def path_routes(app: FastAPI) -> dict[str, str]:
    """operationId -> 'query' | 'body' for every operation taking a parameter named `path`."""
    found = {}
    for op in test_fuzz.operations(app):
        if "path" in op.query_params:
            found[op.operation_id] = "query"
        elif "path" in op.body_fields:
            found[op.operation_id] = "body"
    return found


def test_traversal_corpus_on_every_file_route(
    client: TestClient, app: FastAPI, seeded: Seeded, planted: Planted
) -> None:
    routes = path_routes(app)
    assert routes == EXPECTED_PATH_ROUTES, (
        "a route taking a path appeared or went: add it to this test's corpus run",
        routes,
    )
    run, dataset = seeded.finished_run_id, seeded.dataset_id
    query_urls = {
        "browseDatasets": f"{API}/datasets/browse",
        "getDatasetThumbnail": f"{API}/datasets/{dataset}/thumbnail",
        "getRunFiles": f"{API}/runs/{run}/files",
    }
    # Positive controls: the same routes serve what is inside their roots, so a 4xx below is
    # the path check at work, not a broken route.
    assert client.get(query_urls["browseDatasets"], params={"path": "digits"}).status_code == 200
    thumb = client.get(query_urls["getDatasetThumbnail"], params={"path": seeded.sample_path})
    assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")
    results = client.get(query_urls["getRunFiles"], params={"path": "results.json"})
    assert results.status_code == 200 and b"acc@1" in results.content
    listing = client.get(query_urls["getRunFiles"]).json()
    names = {entry["name"] for entry in listing["entries"]}
    assert "results.json" in names and not names & {"link-out", "link.txt", "loop"}
    assert (planted.outside / "secret.txt").read_text() == SECRET

    checker = Checker(client)
    corpus = payloads(planted)
    for payload in corpus:
        for op_id, url in query_urls.items():
            # Encoded once by the client (the server sees the payload itself) ...
            checker.check(f"{op_id} ?path={payload!r}", "GET", url, params={"path": payload})
            # ... and written into the URL raw (the server decodes escapes, splits on '&').
            checker.check(f"{op_id} raw {payload!r}", "GET", f"{url}?path={raw_query(payload)}")
            # The URL path itself: a traversal after the route or in place of an id. (A
            # payload of only slashes is the route itself behind a trailing-slash redirect.)
            escaped = quote(payload.encode("utf-8", "surrogatepass"), safe="")
            if payload.strip("/"):
                checker.check(f"{op_id} url/{payload!r}", "GET", f"{url}/{escaped}")
        checker.check(f"runs/<payload>/files {payload!r}", "GET", f"{API}/runs/{escaped}/files")
        checker.check(
            f"createDataset {payload!r}",
            "POST",
            f"{API}/datasets",
            json={"name": f"evil-{checker.requests}", "path": payload},
        )
        # Other inputs that name folders the server reads.
        checker.check(
            f"createConfig root={payload!r}",
            "POST",
            f"{API}/projects/{seeded.project_id}/configs",
            json={
                "name": f"evil-{checker.requests}",
                "data": seeded.config_data | {"root": payload},
            },
        )
        # A model source is a hub id or a save_pretrained folder under VISIONYARD_MODELS_DIR
        # (S4 owns its rules; a payload may spell a valid hub id and be accepted), but
        # registering one must never read a file's content into the answer.
        checker.check(
            f"createModel source={payload!r}",
            "POST",
            f"{API}/projects/{seeded.project_id}/models",
            refused=False,
            json={"name": f"evil-{checker.requests}", "source": payload},
        )
        checker.check(
            f"listDatasetSamples class_name={payload!r}",
            "GET",
            f"{API}/datasets/{dataset}/samples",
            params={"class_name": payload},
        )
    print(f"\nS5: {len(corpus)} payloads, {checker.requests} requests")
    assert not checker.failures, "\n".join(checker.failures[:40])

    # Nothing outside the roots was registered along the way.
    datasets = client.get(f"{API}/datasets").json()["items"]
    assert [d["path"] for d in datasets] == ["digits"], datasets


def test_a_dataset_folder_replaced_by_a_link_out_is_refused(
    client: TestClient, seeded: Seeded, planted: Planted
) -> None:
    """A registered dataset's folder swapped for a link out of DATASETS_DIR after registration:
    the stored path is re-checked on every use."""
    shutil.rmtree(seeded.dataset_folder)
    os.symlink(planted.outside, seeded.dataset_folder, target_is_directory=True)
    did = seeded.dataset_id
    for url, params in (
        (f"{API}/datasets/{did}/thumbnail", {"path": "secret.png"}),
        (f"{API}/datasets/{did}/thumbnail", {"path": "train/a/x.png"}),
        (f"{API}/datasets/{did}/samples", {}),
        (f"{API}/datasets/browse", {"path": "digits"}),
    ):
        response = client.get(url, params=params)
        assert response.status_code == 400, (url, response.text)
        assert SECRET.encode() not in response.content
    assert client.post(f"{API}/datasets/{did}/analyze").status_code == 400


def test_a_run_folder_replaced_by_a_link_out_is_refused(
    client: TestClient, seeded: Seeded, planted: Planted
) -> None:
    """The same for a run folder: files, results and delete refuse to follow it."""
    shutil.rmtree(seeded.run_folder)
    os.symlink(planted.outside, seeded.run_folder, target_is_directory=True)
    rid = seeded.finished_run_id
    for url, params in (
        (f"{API}/runs/{rid}/files", {"path": "secret.txt"}),
        (f"{API}/runs/{rid}/files", {}),
        (f"{API}/runs/{rid}/results", {}),
    ):
        response = client.get(url, params=params)
        assert 400 <= response.status_code < 500, (url, response.text)
        assert SECRET.encode() not in response.content
    assert client.delete(f"{API}/runs/{rid}").status_code == 409
    assert (planted.outside / "secret.txt").read_text() == SECRET
