"""Local paths built from names that a remote source chose: tile ids, listed file names, zip members.

Those names are untrusted input. A tile id of ``../../.dagster/dagster.yaml`` or a zip member
``/etc/cron.d/x`` must not write outside the folder meant for it, so every such name passes through
:func:`safe_join` (or :func:`check_name` for a single path component) before it touches the disk.
The rules are stricter than POSIX needs: backslashes and drive letters are refused too, because the
same names reach GDAL, object keys and, through QGIS, Windows machines.
"""

from __future__ import annotations

import re
import shutil
import stat
import uuid
import zipfile
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COPY_CHUNK = 1024 * 1024


class UnsafePathError(ValueError):
    """A name from a source would escape its folder or is not a portable relative name."""


def check_relative_name(untrusted: str) -> str:
    """Validate a ``/``-separated relative name and return it; raise :class:`UnsafePathError` if unsafe.

    Refused: empty names and components (``a//b``), absolute paths, drive letters, ``.`` and ``..``
    components, backslashes, NUL and other control characters.
    """
    problem = _problem(untrusted)
    if problem:
        raise UnsafePathError(f"unsafe name {untrusted!r}: {problem}")
    return untrusted


def check_name(untrusted: str) -> str:
    """Validate a single path component (a tile id, a file name): the relative-name rules and no ``/``."""
    check_relative_name(untrusted)
    if "/" in untrusted:
        raise UnsafePathError(f"unsafe name {untrusted!r}: a single name may not contain '/'")
    return untrusted


def safe_join(root: Path, untrusted: str) -> Path:
    """``root / untrusted``, guaranteed to lie inside ``root``.

    Besides the name rules, the joined path is resolved, so a symbolic link already inside ``root``
    cannot lead the write elsewhere either.
    """
    path = root / check_relative_name(untrusted)
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafePathError(f"unsafe name {untrusted!r}: it resolves outside {root}")
    return path


def _problem(name: str) -> str | None:
    if not name:
        return "empty name"
    if _CONTROL.search(name):
        return "control character (NUL, newline, ...)"
    if "\\" in name:
        return "backslash"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter"
    parts = name.split("/")
    if ".." in parts:
        return "'..' component"
    if "." in parts or "" in parts:
        return "empty or '.' component"
    return None


def safe_extract_zip(zip_path: Path, target_dir: Path) -> list[Path]:
    """Extract every file of ``zip_path`` under ``target_dir``; return their paths in archive order.

    All or nothing: every member name is checked first, then the archive is extracted into a hidden
    folder inside ``target_dir`` (same file system, so the final moves are renames), and only when every
    member has been read completely (CRC checked by :mod:`zipfile`) are the files moved into place. An
    unsafe name, a symbolic link member or a corrupt member leaves ``target_dir`` as it was. A file
    that is no zip archive at all raises :class:`zipfile.BadZipFile` naming it and saying why.
    """
    staging = target_dir / f".extract-{uuid.uuid4().hex}"
    with _open_zip(zip_path) as archive:
        files = _checked_members(zip_path, archive)
        staging.mkdir(parents=True)
        try:
            for member, name in files:
                _extract_member(archive, member, safe_join(staging, name))
            return [_move_into_place(staging, target_dir, name) for _, name in files]
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    """The archive, or :class:`zipfile.BadZipFile` naming the file (zipfile's own message does not)."""
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        size = zip_path.stat().st_size
        why = "it is empty (0 bytes)" if size == 0 else f"{error} ({size} bytes)"
        raise zipfile.BadZipFile(f"{zip_path.name}: not a zip archive: {why}") from None


def _checked_members(zip_path: Path, archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    """The file members and their names, after refusing the whole archive for any unsafe member."""
    files: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    for member in archive.infolist():
        name = member.filename.removesuffix("/") if member.is_dir() else member.filename
        try:
            check_relative_name(name)
        except UnsafePathError as error:
            raise UnsafePathError(f"{zip_path}: member {member.filename!r}: {error}") from None
        if stat.S_ISLNK(member.external_attr >> 16):
            raise UnsafePathError(f"{zip_path}: member {member.filename!r} is a symbolic link")
        if member.is_dir():
            continue
        if name in seen:
            # A second member of the same name would silently replace the first one, the one checked.
            raise UnsafePathError(f"{zip_path}: member {member.filename!r} appears more than once")
        seen.add(name)
        files.append((member, name))
    return files


def _extract_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(member) as source, path.open("xb") as out:
        shutil.copyfileobj(source, out, _COPY_CHUNK)


def _move_into_place(staging: Path, target_dir: Path, name: str) -> Path:
    destination = safe_join(target_dir, name)
    destination.parent.mkdir(parents=True, exist_ok=True)
    safe_join(staging, name).replace(destination)
    return destination
