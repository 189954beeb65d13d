"""Untrusted names never leave their folder: safe_join, check_name and all-or-nothing zip extraction."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from landing_zone.sources import UnsafePathError, check_name, safe_extract_zip, safe_join

pytestmark = pytest.mark.timeout(30)

UNSAFE = [
    "",
    "../x.asc",
    "tiles/../../x.asc",
    "..",
    "/etc/passwd",
    "C:/tiles/x.asc",
    "c:x.asc",
    "tiles\\x.asc",
    "x\x00.asc",
    "x\n.asc",
    "tiles//x.asc",
    "./x.asc",
    "tiles/",
]


@pytest.mark.parametrize("name", UNSAFE)
def test_safe_join_refuses_unsafe_names_and_names_them(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        safe_join(tmp_path, name)
    assert repr(name) in str(caught.value)


@pytest.mark.parametrize("name", ["N34-12.asc", "tiles/v1/N34-12.asc", "a b/ü.tif", "..x", "x.."])
def test_safe_join_accepts_relative_names_inside_root(tmp_path: Path, name: str) -> None:
    joined = safe_join(tmp_path, name)
    assert joined == tmp_path / name
    assert joined.resolve().is_relative_to(tmp_path.resolve())


def test_safe_join_refuses_a_symlink_that_leads_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="resolves outside"):
        safe_join(root, "link/x.asc")


def test_tile_id_with_a_separator_is_refused() -> None:
    assert check_name("M-34-56-A-1") == "M-34-56-A-1"
    for tile_id in ["../M-34", "a/b", "..", "a\\b"]:
        with pytest.raises(UnsafePathError):
            check_name(tile_id)


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_zip_extracts_every_file_in_archive_order(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "tiles.zip",
        [("readme.txt", b"r"), (zipfile.ZipInfo("tiles/"), b""), ("tiles/N34-12.asc", b"grid")],
    )
    target = tmp_path / "out"
    extracted = safe_extract_zip(archive, target)
    assert extracted == [target / "readme.txt", target / "tiles" / "N34-12.asc"]
    assert (target / "tiles" / "N34-12.asc").read_bytes() == b"grid"
    assert _tree(target) == ["readme.txt", "tiles", "tiles/N34-12.asc"]


@pytest.mark.parametrize("evil", ["ABSOLUTE", "../evil.asc", "tiles/../../evil.asc", "C:/evil.asc"])
def test_zip_with_an_escaping_member_extracts_nothing(tmp_path: Path, evil: str) -> None:
    if evil == "ABSOLUTE":
        evil = str(tmp_path / "evil.asc")  # a place the test can check
    archive = _zip(tmp_path / "evil.zip", [("good.asc", b"fine"), (zipfile.ZipInfo(evil), b"bad")])
    target = tmp_path / "deep" / "out"
    before = _tree(tmp_path)
    with pytest.raises(UnsafePathError) as caught:
        safe_extract_zip(archive, target)
    message = str(caught.value)
    assert str(archive) in message
    assert repr(evil) in message
    # Nothing outside the target, nothing inside it either (not even the good member, nor the folder).
    assert _tree(tmp_path) == before


def test_zip_symlink_member_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "link.zip", [(link, b"/etc/passwd")])
    with pytest.raises(UnsafePathError, match="symbolic link"):
        safe_extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_duplicate_member_is_refused(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = _zip(tmp_path / "dup.zip", [("a.asc", b"checked"), ("a.asc", b"swapped")])
    with pytest.raises(UnsafePathError, match="more than once"):
        safe_extract_zip(archive, tmp_path / "out")


def test_corrupt_member_leaves_target_untouched(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "crc.zip", [("first.asc", b"fine"), ("second.asc", b"0123456789" * 100)])
    data = bytearray(archive.read_bytes())
    offset = data.index(b"0123456789")
    data[offset : offset + 10] = b"xxxxxxxxxx"  # stored (not compressed), so the CRC check catches it
    archive.write_bytes(bytes(data))
    target = tmp_path / "out"
    target.mkdir()
    (target / "first.asc").write_bytes(b"previous")
    with pytest.raises(zipfile.BadZipFile):
        safe_extract_zip(archive, target)
    assert _tree(target) == ["first.asc"]
    assert (target / "first.asc").read_bytes() == b"previous"
