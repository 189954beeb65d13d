"""Sources for tests that read only some of them: the rest named ``unused``, so a read of one fails loudly."""

from landing_zone.resources.sources import SOURCE_NAMES, SourcesResource


def sources_with(**urls: str) -> SourcesResource:
    """A :class:`SourcesResource` with the given ``<name>_url`` values, every other source ``unused``."""
    return SourcesResource(**({f"{name}_url": "unused" for name in SOURCE_NAMES} | urls))
