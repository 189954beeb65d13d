"""What the Dagster UI's catalogue shows, asked of a real ``dagster dev`` over GraphQL (issue 18).

``make dev``'s command (``dagster dev -w workspace.yaml``) runs in a subprocess with a fresh instance, so
both code locations load as in development, each in its own code server. Every asset the catalogue lists
must sit in a domain group (not ``default``) with an owner, the discharge model's specs of landing-zone
assets in the same group as the assets themselves, and no two assets may share a catalogue label: the
lineage view names an asset by its group and the last component of its key, so (group, name) must be
unique.

Runs cannot start in this instance (the run queue admits none), and storage points at the test's own
folder: the automation daemon that ``dagster dev`` starts must not materialise anything here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCATIONS = {"landing-zone", "discharge-model"}
STARTUP_SECONDS = 120
"""Bound on the server and both code locations loading (about 15 s on an idle two-core machine)."""

WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message causes { message } } }
} } } }
"""

CATALOGUE_QUERY = """
fragment Node on AssetNode {
  assetKey { path }
  groupName
  isMaterializable
  owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
}
{
  assetNodes { ...Node }
  repositoriesOrError { __typename ... on RepositoryConnection { nodes {
    location { name }
    assetNodes { ...Node }
  } } }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def graphql(url: str, query: str) -> dict:
    """The ``data`` of one GraphQL query; a GraphQL error fails with its message."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert not body.get("errors"), body["errors"]
    return body["data"]


def wait_until_loaded(url: str, server: subprocess.Popen[bytes]) -> None:
    """Poll until both code locations are loaded; fail at once on a load error or a dead server."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"dagster dev exited with {server.returncode}"
        try:
            entries = graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            entries = []
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error is not None and error["__typename"] == "PythonError":
                causes = "".join(cause["message"] for cause in error["causes"])
                pytest.fail(f"{entry['name']} did not load: {error['message']}{causes}")
        loaded = {e["name"] for e in entries if e["loadStatus"] == "LOADED" and e["locationOrLoadError"]}
        if loaded >= LOCATIONS:
            return
        time.sleep(1)
    pytest.fail(f"dagster dev did not load {sorted(LOCATIONS)} within {STARTUP_SECONDS} s")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running ``dagster dev`` on a free loopback port; its whole process group is ended afterwards."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 0\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PLATFORM_ENV": "local",
        "PLATFORM_STORAGE_URL": str(home / "storage"),
    }
    port = free_port()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    log = (home / "dagster_dev.log").open("wb")
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_loaded(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def catalogue(dagster_dev: str) -> dict:
    return graphql(dagster_dev, CATALOGUE_QUERY)


def user_key(node: dict) -> str:
    return "/".join(node["assetKey"]["path"])


def test_every_asset_has_a_domain_group_and_an_owner(catalogue: dict) -> None:
    nodes = catalogue["assetNodes"]
    # 36 landing-zone assets and the discharge model's 8 (tests/snapshots)
    assert sum(node["isMaterializable"] for node in nodes) >= 44
    ungrouped = [user_key(node) for node in nodes if node["groupName"] == "default"]
    unowned = [user_key(node) for node in nodes if not node["owners"]]
    assert ungrouped == []
    assert unowned == []
    owners = {owner.get("team") or owner.get("email") for node in nodes for owner in node["owners"]}
    assert None not in owners


def test_specs_of_another_location_sit_in_the_owning_group(catalogue: dict) -> None:
    """The discharge model's specs of landing-zone keys land where the landing zone puts those assets."""
    groups = {user_key(node): node["groupName"] for node in catalogue["assetNodes"]}
    repositories = catalogue["repositoriesOrError"]["nodes"]
    assert {repository["location"]["name"] for repository in repositories} == LOCATIONS
    foreign = [
        (repository["location"]["name"], user_key(node), node["groupName"], groups[user_key(node)])
        for repository in repositories
        for node in repository["assetNodes"]
        if node["groupName"] != groups[user_key(node)]
    ]
    read_across = [
        user_key(node)
        for repository in repositories
        if repository["location"]["name"] == "discharge-model"
        for node in repository["assetNodes"]
        if not node["isMaterializable"]
    ]
    assert read_across, "the discharge model declares the landing-zone assets it reads"
    assert foreign == []


def test_no_two_assets_share_a_catalogue_label(catalogue: dict) -> None:
    labels = Counter((node["groupName"], node["assetKey"]["path"][-1]) for node in catalogue["assetNodes"])
    assert [label for label, count in labels.items() if count > 1] == []
