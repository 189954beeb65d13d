"""The SHA-256 of a local file, read in blocks: the version recorded for a stored object (training data
inputs, model archives, downloaded test data), so a reader can tell exactly which bytes it had."""

import hashlib
from pathlib import Path

BLOCK_BYTES = 1 << 20
"""Read size: files run to gigabytes (forcings tables), so they are never read whole."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()
