"""Source URLs confined to their provider: every escape the hostile tester tried, refused and named."""

from __future__ import annotations

from pathlib import Path

import pytest

from landing_zone.sources import SourceUrlRefused, confine_url, fetch, list_remote, provider_root
from landing_zone.sources.http import FetchError
from shared.workers import RetryPolicy
from tests.sources.http_server import ScriptedServer, scripted_server

pytestmark = [pytest.mark.hostile, pytest.mark.timeout(30)]


@pytest.fixture
def provider(tmp_path: Path) -> Path:
    """A provider root holding one tile, beside a secret that lies outside it."""
    root = tmp_path / "provider"
    (root / "tiles").mkdir(parents=True)
    (root / "tiles" / "a.asc").write_text("ncols 1\n")
    (tmp_path / "secret.txt").write_text("AWS_SECRET_ACCESS_KEY=hunter2\n")
    return root


def test_a_file_inside_the_root_is_allowed(provider: Path) -> None:
    url = (provider / "tiles" / "a.asc").as_uri()
    assert confine_url(url, [provider.as_uri()], "tile 'a'") == url


@pytest.mark.parametrize(
    "escape",
    [
        "file:///proc/self/environ",
        "{root}/tiles/../../secret.txt",
        "{root}/tiles/%2e%2e/%2E%2E/secret.txt",
        "{parent}/secret.txt",
    ],
    ids=["proc-environ", "dot-dot", "percent-encoded-dot-dot", "absolute-path"],
)
def test_local_escapes_are_refused_naming_the_feature(provider: Path, escape: str) -> None:
    url = escape.format(root=provider.as_uri(), parent=provider.parent)
    with pytest.raises(SourceUrlRefused, match=r"^tile 'N34-12': .* refused: .*outside") as raised:
        confine_url(url, [provider.as_uri() + "/"], "tile 'N34-12'")
    assert escape.split("/")[-1] in str(raised.value)


def test_a_symlink_inside_the_root_pointing_outside_is_refused(provider: Path) -> None:
    (provider / "tiles" / "b.asc").symlink_to(provider.parent / "secret.txt")
    with pytest.raises(SourceUrlRefused, match="tile 'b'"):
        confine_url((provider / "tiles" / "b.asc").as_uri(), [provider.as_uri()], "tile 'b'")


def test_a_symlinked_file_in_a_listed_folder_fails_the_listing_naming_it(provider: Path) -> None:
    (provider / "tiles" / "b.asc").symlink_to(provider.parent / "secret.txt")
    with pytest.raises(SourceUrlRefused, match=r"listed file 'tiles/b.asc'"):
        list_remote(str(provider))
    (provider / "tiles" / "b.asc").unlink()
    assert [file.name for file in list_remote(str(provider))] == ["tiles/a.asc"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("s3://bucket/data/x.tif", "scheme 's3' is not allowed"),
        ("https://host/data/x.tif", "scheme 'https' is not allowed"),
        ("http://host/data-evil/x.tif", "outside"),
        ("http://host/x.tif", "outside"),
        ("http://other/data/x.tif", "outside"),
        ("http://host:8080/data/x.tif", "outside"),
        ("http://host/data/%2e%2e/etc/passwd", "outside"),
        ("http://host/data/..%2f..%2fetc/passwd", "outside"),
    ],
)
def test_http_escapes_scheme_switches_and_lookalike_prefixes_are_refused(url: str, reason: str) -> None:
    with pytest.raises(SourceUrlRefused, match=reason):
        confine_url(url, ["http://host/data"], "tile 'N34-12'")


def test_http_urls_under_the_prefix_are_allowed_with_credentials_redacted_in_refusals() -> None:
    allowed = ["http://HOST:80/data/"]
    assert (
        confine_url("http://host/data/sub/./x.tif?sig=1", allowed, "t")
        == "http://host/data/sub/./x.tif?sig=1"
    )
    with pytest.raises(SourceUrlRefused) as raised:
        confine_url("http://user:token@host/other/x.tif?sig=secret", allowed, "tile 'x'")
    assert "token" not in str(raised.value) and "secret" not in str(raised.value)
    assert "http://host/other/x.tif" in str(raised.value)


def test_provider_root_is_the_folder_of_the_configured_url(tmp_path: Path) -> None:
    assert provider_root("https://h/wfs/index.geojson?x=1") == "https://h/wfs/"
    assert provider_root("s3://bucket/meteo/v2/") == "s3://bucket/meteo/v2/"
    assert provider_root(str(tmp_path / "index.geojson")) == tmp_path.resolve().as_uri() + "/"


def test_fetch_refuses_before_reading_and_leaves_nothing(provider: Path, tmp_path: Path) -> None:
    destination = tmp_path / "out" / "x"
    with pytest.raises(SourceUrlRefused, match="tile 'x'"):
        fetch("file:///proc/self/environ", destination, allowed_prefixes=[provider.as_uri()], what="tile 'x'")
    assert not destination.exists()


def test_a_redirect_off_the_provider_fails_and_is_not_followed(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/data/secret-elsewhere", body=b"secret")
    server.route("/data-evil/secret", body=b"secret")
    server.route("/data/tile.asc", handler=lambda _: (302, {"Location": "/data-evil/secret"}, b""))
    with pytest.raises(SourceUrlRefused, match=r"tile 'N34-12' \(redirected\): .*/data-evil/secret refused"):
        fetch(
            server.url("/data/tile.asc"),
            tmp_path / "tile.asc",
            allowed_prefixes=[server.url("/data/")],
            what="tile 'N34-12'",
            retry=fast_retry,
        )
    assert server.requests_to("/data-evil/secret") == []
    assert not (tmp_path / "tile.asc").exists()


def test_a_redirect_inside_the_provider_is_followed(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/data/v2/tile.asc", body=b"tile")
    server.route("/data/tile.asc", handler=lambda _: (301, {"Location": "v2/tile.asc"}, b""))
    result = fetch(
        server.url("/data/tile.asc"),
        tmp_path / "t.asc",
        allowed_prefixes=[server.url("/data/")],
        retry=fast_retry,
    )
    assert result.path.read_bytes() == b"tile"
    assert len(server.requests_to("/data/v2/tile.asc")) == 1


def test_a_redirect_to_another_scheme_fails_even_unconfined(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/data/tile.asc", handler=lambda _: (302, {"Location": "file:///etc/passwd"}, b""))
    with pytest.raises(FetchError, match="redirected to file:///etc/passwd: only http"):
        fetch(server.url("/data/tile.asc"), tmp_path / "t.asc", retry=fast_retry)


def test_credentials_are_not_sent_to_another_origin(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    with scripted_server() as mirror:
        mirror.route("/data/tile.asc", body=b"tile")
        server.route(
            "/data/tile.asc", handler=lambda _: (302, {"Location": mirror.url("/data/tile.asc")}, b"")
        )
        url = server.url("/data/tile.asc").replace("http://", "http://user:pass@")
        allowed = [server.url("/data/"), mirror.url("/data/")]
        fetch(url, tmp_path / "t.asc", allowed_prefixes=allowed, retry=fast_retry)
        assert server.requests_to("/data/tile.asc")[0].headers["Authorization"] is not None
        assert mirror.requests_to("/data/tile.asc")[0].headers["Authorization"] is None
