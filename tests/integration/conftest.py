"""Fixtures of the integration tests: the fault proxy in front of the session's SeaweedFS."""

from tests.support.tcp_proxy import faulty_s3_endpoint

__all__ = ["faulty_s3_endpoint"]
