"""The registries of the web UI in a real Chromium against a real `visionyard serve`: datasets
(browse DATASETS_DIR, register, counts, thumbnails, unreadable files), a project's models (local
folders, Hub ids, write-only tokens), agents (a real `visionyard agent` process, drained and
undrained), and admin (users, API tokens whose secret is shown once)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.agent.platform import copy_digits
from tests.dashboard.conftest import ADMIN_TOKEN
from tests.liveserver import API, admin_api, server_env
from tests.web_ui.axe import serious_axe_violations
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in
from tests.web_ui.platform import start_cpu_agent, stop_agents
from visionyard import runqueue
from visionyard.db.engine import make_engine
from visionyard.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _wait(what: str, probe: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---- datasets ------------------------------------------------------------------------------------


def test_browse_register_and_inspect_the_digits_dataset(
    logged_in: Callable[[], Page], ui_settings: Settings, digits_root: Path
) -> None:
    digits = copy_digits(digits_root, ui_settings.datasets_root / "images" / "digits", per_class=12)
    (digits / "train" / "3" / "broken.png").write_bytes(b"not a png at all")
    page = logged_in()

    page.get_by_role("link", name="Datasets").click()
    page.get_by_text("No datasets registered yet").wait_for(timeout=UI_TIMEOUT_MS)
    # DATASETS_DIR/images is a plain folder; digits inside it is a dataset (train/ + val/).
    page.get_by_role("button", name="Open folder images").click()
    page.get_by_role("button", name="Open folder digits").click()
    page.get_by_role("button", name="Open folder train").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("navigation", name="Folder").inner_text().split() == [
        "DATASETS_DIR",
        "images",
        "digits",
    ]
    # Each folder opened is a history entry: Back goes up again.
    page.go_back()
    page.get_by_role("button", name="Open folder digits").wait_for(timeout=UI_TIMEOUT_MS)
    page.go_forward()
    page.get_by_role("button", name="Register this folder").click()
    assert page.get_by_label("Name").input_value() == "digits"
    page.get_by_role("button", name="Register", exact=True).click()

    page.wait_for_url("**/dataset/?id=*", timeout=UI_TIMEOUT_MS)
    page.get_by_role("heading", name="digits", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    # Per-class counts per split, as the scan found them: the unreadable image is left out.
    train = page.get_by_role("table", name="Images per class in train")
    assert train.get_by_role("row", name="3").inner_text().split() == ["3", "12"]
    assert train.get_by_role("row", name="7").inner_text().split() == ["7", "12"]
    val = page.get_by_role("table", name="Images per class in val")
    assert val.get_by_role("row", name="0").inner_text().split() == ["0", "4"]
    page.get_by_role("heading", name="1 unreadable image").wait_for()
    page.get_by_text("train/3/broken.png", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    # Thumbnails are the server's authenticated images, loaded with the session cookie.
    first = page.get_by_role("list", name="Samples of 0").get_by_role("img").first
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=first.element_handle(),
        timeout=UI_TIMEOUT_MS,
    )
    assert len(page.get_by_role("list", name="Samples of 0").get_by_role("img").all()) == 8

    # Re-analysis sees a change on disk.
    (digits / "train" / "3" / "broken.png").unlink()
    page.get_by_role("button", name="Re-analyse").click()
    page.get_by_text("Every image could be read.").wait_for(timeout=UI_TIMEOUT_MS)

    page.get_by_role("link", name="Datasets").first.click()
    registered = page.get_by_role("list", name="Registered datasets")
    registered.get_by_role("link", name="digits").wait_for(timeout=UI_TIMEOUT_MS)
    # The folder browser knows digits is registered: a badge linking to it, no second "Register".
    page.get_by_role("button", name="Open folder images").click()
    page.get_by_role("link", name="digits is registered: open its dataset").wait_for(
        timeout=UI_TIMEOUT_MS
    )
    assert page.get_by_role("button", name="Register digits").count() == 0
    page.get_by_role("button", name="Delete digits").click()
    page.get_by_role("button", name="Delete dataset").click()
    page.get_by_text("No datasets registered yet").wait_for(timeout=UI_TIMEOUT_MS)
    # Deleted, the folder can be registered again.
    page.get_by_role("button", name="Register digits").wait_for(timeout=UI_TIMEOUT_MS)
    assert digits.is_dir(), "deleting a dataset must never touch its files"


def test_a_folder_that_is_not_a_dataset_is_refused_in_the_scanners_words(
    logged_in: Callable[[], Page], ui_settings: Settings, digits_root: Path
) -> None:
    broken = copy_digits(digits_root, ui_settings.datasets_root / "lopsided", per_class=4)
    shutil.rmtree(broken / "val" / "5")  # val/ lacks a class train/ has
    page = logged_in()
    page.goto(page.url.replace("/projects/", "/datasets/?path=lopsided"))
    page.get_by_role("button", name="Register this folder").click()
    page.get_by_role("button", name="Register", exact=True).click()
    alert = page.get_by_role("dialog").get_by_role("alert")
    alert.wait_for(timeout=UI_TIMEOUT_MS)
    assert "5" in alert.inner_text()
    assert "/dataset/" not in page.url


def test_a_dataset_whose_folder_is_gone_says_so_once(
    logged_in: Callable[[], Page], ui_url: str, ui_settings: Settings, digits_root: Path
) -> None:
    folder = copy_digits(digits_root, ui_settings.datasets_root / "gone", classes=3, per_class=4)
    with admin_api(ui_url) as api:
        dataset = api.post("/datasets", json={"name": "gone", "path": "gone"}).json()
    shutil.rmtree(folder)
    page = logged_in()
    page.goto(f"{ui_url}/dataset/?id={dataset['id']}")
    # The stored analysis still shows; the samples say once that the folder is missing.
    page.get_by_role("table", name="Images per class in train").wait_for(timeout=UI_TIMEOUT_MS)
    alert = page.get_by_role("alert").filter(has_text="no longer exists")
    alert.wait_for(timeout=UI_TIMEOUT_MS)
    assert alert.count() == 1
    page.get_by_role("button", name="Re-analyse").click()
    page.get_by_text("Re-analysis failed").wait_for(timeout=UI_TIMEOUT_MS)


# ---- models --------------------------------------------------------------------------------------


def test_register_local_and_hub_models_with_a_write_only_token(
    logged_in: Callable[[], Page],
    ui_url: str,
    models_dir: Path,
    tiny_model: Callable[[str], Path],
) -> None:
    shutil.copytree(tiny_model("resnet"), models_dir / "tiny-resnet")
    with admin_api(ui_url) as api:
        project = api.post("/projects", json={"name": "birds"}).json()
    page = logged_in()
    page.goto(f"{ui_url}/project/models/?id={project['id']}")
    page.get_by_text("No models registered").wait_for(timeout=UI_TIMEOUT_MS)

    # A mistyped local folder: refused on the field, naming the folder that was meant.
    page.get_by_role("button", name="Add model").first.click()
    page.get_by_label("Name").fill("tiny")
    page.get_by_role("radio", name="Local folder").check()
    page.get_by_role("textbox", name="Folder").fill("tiny-resnett")
    page.get_by_role("button", name="Add model").last.click()
    error = page.locator("#model-source-error")
    error.wait_for(timeout=UI_TIMEOUT_MS)
    assert "does not exist" in error.inner_text()
    assert "Did you mean 'tiny-resnet'?" in error.inner_text()
    page.get_by_role("textbox", name="Folder").fill("tiny-resnet")
    page.get_by_role("button", name="Add model").last.click()
    models = page.get_by_role("list", name="Models")
    models.get_by_text("Local folder").wait_for(timeout=UI_TIMEOUT_MS)

    page.get_by_role("button", name="Add model").first.click()
    page.get_by_label("Name").fill("vit")
    assert page.get_by_role("radio", name="Hugging Face Hub model").is_checked()
    page.get_by_role("textbox", name="Hub id").fill("google/vit-base-patch16-224")
    page.get_by_role("button", name="Add model").last.click()
    vit = models.get_by_role("listitem").filter(has_text="vit")
    vit.get_by_text("Hub", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert vit.get_by_text("token set").count() == 0

    secret = "hf_do-not-show-me-0123456789"
    vit.get_by_role("button", name="Set token").click()
    page.get_by_role("textbox", name="Access token").fill(secret)
    assert page.get_by_role("textbox", name="Access token").get_attribute("type") == "password"
    page.get_by_role("button", name="Save token").click()
    vit.get_by_text("token set").wait_for(timeout=UI_TIMEOUT_MS)
    vit.get_by_role("button", name="Replace token").wait_for(timeout=UI_TIMEOUT_MS)
    assert secret not in page.content()
    with admin_api(ui_url) as api:
        listed = api.get(f"/projects/{project['id']}/models").text
    assert secret not in listed and '"has_token":true' in listed.replace(" ", "")

    page.get_by_role("button", name="Actions for vit").click()
    page.get_by_role("menuitem", name="Clear token").click()
    page.get_by_role("button", name="Clear token").click()
    vit.get_by_role("button", name="Set token").wait_for(timeout=UI_TIMEOUT_MS)
    assert vit.get_by_text("token set").count() == 0


# ---- agents --------------------------------------------------------------------------------------


@pytest.fixture
def agent(ui_settings: Settings, ui_url: str, tmp_path: Path) -> Iterator[Path]:
    """A real `visionyard agent` (CPU) on the serve's database and folders; yields its log."""
    log = tmp_path / "agent.log"
    env = server_env(ui_settings)
    env.update(
        VISIONYARD_AGENT_TOKEN=ADMIN_TOKEN,
        VISIONYARD_HEARTBEAT_INTERVAL="1",
        VISIONYARD_AGENT_IDLE_WAIT="0.5",
    )
    proc = start_cpu_agent("ui-agent", env, log)
    try:
        yield log
    finally:
        stop_agents([proc])


def test_a_real_agent_shows_online_and_is_drained_and_undrained(
    logged_in: Callable[[], Page], ui_url: str, agent: Path
) -> None:
    page = logged_in()
    page.goto(f"{ui_url}/agents/")
    card = page.get_by_role("region", name="Agent ui-agent")
    # The agent process starts meanwhile; its card arrives live (no reload).
    card.get_by_text("Online").wait_for(timeout=60_000)
    assert "cpu" in card.inner_text()
    card.get_by_text("No GPU: runs train on the CPU.").wait_for(timeout=UI_TIMEOUT_MS)
    assert "last heartbeat" in card.inner_text()

    card.get_by_role("button", name="Drain", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    assert "no run right now" in dialog.inner_text()
    dialog.get_by_role("button", name="Drain agent").click()
    card.get_by_text("drained", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    # The agent itself sees the flag on its next heartbeat.
    _wait("the agent to log its drain", lambda: "drained by an operator" in agent.read_text())

    card.get_by_role("button", name="Undrain", exact=True).click()
    card.get_by_role("button", name="Drain", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert card.get_by_text("drained", exact=True).count() == 0
    _wait("the agent to log its undrain", lambda: "un-drained by an operator" in agent.read_text())


def test_a_gpu_agents_card_shows_its_run_and_live_gpu_samples(
    logged_in: Callable[[], Page], ui_url: str, ui_settings: Settings
) -> None:
    """A GPU agent registered and claiming a run through the queue itself (no GPU here): its
    card names the GPU, links the run, and its utilisation and memory bars follow the system
    samples the agent relays for that run, live."""
    engine = make_engine(ui_settings.database_url)
    try:
        with admin_api(ui_url) as api:
            project = api.post("/projects", json={"name": "gpus"}).json()
        agent_id = runqueue.register_agent(
            engine,
            name="gpu-box",
            hostname="rack-7",
            device="cuda:0",
            gpus=[
                {
                    "index": 0,
                    "name": "NVIDIA H100 80GB HBM3",
                    "memory_total_mb": 81559,
                    "uuid": "GPU-0",
                    "compute_capability": "9.0",
                }
            ],
            version="0.0.test",
        )
        run_id = runqueue.enqueue(
            engine,
            project_id=project["id"],
            name="vit-long",
            config_snapshot={"epochs": 1},
            config_hash="0" * 64,
            gpu_count=1,
        )
        claimed = runqueue.claim_next(engine, agent_id=agent_id, capacity=1)
        assert claimed is not None and claimed.id == run_id

        page = logged_in()
        page.goto(f"{ui_url}/agents/")
        card = page.get_by_role("region", name="Agent gpu-box")
        card.get_by_role("link", name="vit-long").wait_for(timeout=UI_TIMEOUT_MS)
        assert "GPU 0 · NVIDIA H100 80GB HBM3 · 80 GB" in card.inner_text()
        assert card.get_by_role("link", name="vit-long").get_attribute("href") == (
            f"/run/?id={run_id}"
        )
        utilisation = card.get_by_role("progressbar", name="Utilisation: 73 %")

        def sample() -> bool:
            # The agent relays a sample every few seconds; send them until the card shows one.
            runqueue.agent_heartbeat(engine, agent_id)
            runqueue.write_events(
                engine,
                run_id,
                claimed.attempt,
                [
                    {
                        "type": "metrics",
                        "split": "system",
                        "step": int(time.time()),
                        "time": time.time(),
                        "values": {"gpu0_util_percent": 73.0, "gpu0_mem_used_mb": 40779.5},
                    }
                ],
                agent_id=agent_id,
            )
            return utilisation.count() == 1

        _wait("the card to show the live GPU sample", sample, timeout=30)
        assert card.get_by_role("progressbar", name="Memory: 40 GB / 80 GB").count() == 1
    finally:
        engine.dispose()


def test_the_agents_page_says_how_to_start_one(logged_in: Callable[[], Page], ui_url: str) -> None:
    page = logged_in()
    page.goto(f"{ui_url}/agents/")
    page.get_by_text("No agent has registered yet").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_text("visionyard agent", exact=True).wait_for(timeout=UI_TIMEOUT_MS)


# ---- admin ---------------------------------------------------------------------------------------


def test_a_token_secret_is_shown_once_and_revoking_it_stops_it(
    logged_in: Callable[[], Page], ui_url: str
) -> None:
    page = logged_in()
    page.get_by_role("link", name="Account: admin").click()
    page.get_by_role("button", name="New token").click()
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    dialog = page.get_by_role("dialog", name="Token ci created")
    dialog.wait_for(timeout=UI_TIMEOUT_MS)
    assert "only time it is shown" in dialog.inner_text()
    secret = dialog.get_by_role("textbox", name="Secret").input_value()
    assert len(secret) > 20
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_url)
    dialog.get_by_role("button", name="Copy", exact=True).click()
    dialog.get_by_role("button", name="Copied", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert (
        httpx.get(
            f"{ui_url}{API}/auth/me", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )
    dialog.get_by_role("button", name="I have copied it").click()
    tokens = page.get_by_role("list", name="API tokens")
    ci = tokens.get_by_role("listitem").filter(has_text="ci")
    ci.get_by_text("active").wait_for(timeout=UI_TIMEOUT_MS)
    assert secret not in page.content()

    ci.get_by_role("button", name="Revoke ci").click()
    page.get_by_role("button", name="Revoke token").click()
    ci.get_by_text("revoked", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert (
        httpx.get(
            f"{ui_url}{API}/auth/me", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 401
    )


def test_admins_manage_users_and_others_are_told_it_is_for_admins(
    logged_in: Callable[[], Page], ui_url: str
) -> None:
    page = logged_in()
    page.goto(f"{ui_url}/admin/")
    page.get_by_role("button", name="New user").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("bobs-long-password")
    page.get_by_role("button", name="Create user").click()
    users = page.get_by_role("list", name="Users")
    bob = users.get_by_role("listitem").filter(has_text="bob")
    bob.wait_for(timeout=UI_TIMEOUT_MS)
    # The admin's own switches are off limits (no locking oneself out).
    admin_row = users.get_by_role("listitem").filter(has_text="you")
    assert admin_row.get_by_role("switch", name="Admin").is_disabled()

    bob.get_by_role("switch", name="Can log in").click()
    page.get_by_role("button", name="Disable user").click()
    bob.get_by_text("disabled", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    login = httpx.post(
        f"{ui_url}{API}/auth/login", json={"username": "bob", "password": "bobs-long-password"}
    )
    assert login.status_code == 401
    bob.get_by_role("switch", name="Can log in").click()
    bob.get_by_text("disabled", exact=True).wait_for(state="detached", timeout=UI_TIMEOUT_MS)

    # Bob, not an admin, is told so on the admin page.
    page.context.clear_cookies()
    log_in(page, ui_url, "bobs-long-password", username="bob")
    # (the sidebar shows once it knows who is logged in: only then can an Admin link be missing)
    page.get_by_role("link", name="Datasets").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("link", name="Admin").count() == 0
    page.goto(f"{ui_url}/admin/")
    page.get_by_text("Managing users is for admins").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("list", name="Users").count() == 0


# ---- accessibility -------------------------------------------------------------------------------


def test_the_registry_pages_have_no_serious_accessibility_violations(
    logged_in: Callable[[], Page],
    ui_url: str,
    ui_settings: Settings,
    digits_root: Path,
    models_dir: Path,
    tiny_model: Callable[[str], Path],
) -> None:
    copy_digits(digits_root, ui_settings.datasets_root / "digits", classes=3, per_class=4)
    shutil.copytree(tiny_model("resnet"), models_dir / "tiny-resnet")
    with admin_api(ui_url) as api:
        dataset = api.post("/datasets", json={"name": "digits", "path": "digits"}).json()
        project = api.post("/projects", json={"name": "a11y"}).json()
        url = f"/projects/{project['id']}/models"
        api.post(url, json={"name": "tiny", "source": "tiny-resnet", "kind": "local"})
        api.post(
            url,
            json={"name": "vit", "source": "google/vit-base-patch16-224", "access_token": "hf_x1"},
        )
        api.post("/tokens", json={"name": "ci"})
    page = logged_in()
    pages = {
        "/datasets/": "Folders in DATASETS_DIR",
        f"/dataset/?id={dataset['id']}": "Images per class",
        f"/project/models/?id={project['id']}": "token set",
        "/agents/": "No agent has registered yet",
        "/admin/": "created",
        "/account/": "this browser",
    }
    problems = []
    for theme in ("Light", "Dark"):
        # The theme menu, as a person picks it; the choice is kept for the following pages.
        page.get_by_role("button", name="Theme:").click()
        page.get_by_role("menuitem", name=theme).click()
        for path, ready in pages.items():
            page.goto(f"{ui_url}{path}")
            page.get_by_text(ready).first.wait_for(timeout=UI_TIMEOUT_MS)
            page.wait_for_load_state("networkidle")
            dark = "dark" in (page.locator("html").get_attribute("class") or "")
            assert dark == (theme == "Dark")
            problems += [f"{theme} {path} {v}" for v in serious_axe_violations(page)]
    assert not problems, "\n".join(problems)
