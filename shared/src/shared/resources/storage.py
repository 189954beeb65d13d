"""The storage resource: Dagster configuration of the storage root, handing out a :class:`Storage`."""

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from shared.storage import Storage, open_storage


class StorageResource(ConfigurableResource):
    """Where every asset lives: a local directory or ``s3://bucket/prefix``.

    Endpoint and region default to the standard AWS variables when left empty; credentials are never
    configured here (environment or IAM role only).
    """

    url: str = Field(description="Storage root: a local directory or s3://bucket/prefix.")
    endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (SeaweedFS, MinIO); empty for AWS or AWS_ENDPOINT_URL."
    )
    region: str | None = Field(default=None, description="S3 region; empty for AWS_REGION or us-east-1.")

    _storage: Storage | None = PrivateAttr(default=None)

    def get_storage(self) -> Storage:
        """The storage client, built once per resource instance (boto3 clients are costly to create)."""
        if self._storage is None:
            self._storage = open_storage(self.url, endpoint_url=self.endpoint_url, region=self.region)
        return self._storage
