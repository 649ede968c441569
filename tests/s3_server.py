"""An S3-compatible server on 127.0.0.1 for the object-store tests: moto's server mode in a
thread of the test process, one bucket, and the Beam flags that point a run at it."""

from __future__ import annotations

import contextlib
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

BUCKET = "newsbeam-tests"
KEY_ID, SECRET, REGION = "testing-key", "testing-secret", "us-east-1"


def endpoint_flags(endpoint: str) -> list[str]:
    """Beam's S3 options for a run against the store at `endpoint` (this module's server, or
    a relay in front of it), with the test credentials."""
    return [
        f"--s3_endpoint_url={endpoint}",
        f"--s3_access_key_id={KEY_ID}",
        f"--s3_secret_access_key={SECRET}",
        f"--s3_region_name={REGION}",
    ]


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client of the store at `endpoint`, with the test credentials."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    def client(self) -> Any:
        """A boto3 S3 client of this server (`s3_client`)."""
        return s3_client(self.endpoint)

    def url(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", *parts])

    @property
    def flags(self) -> list[str]:
        """Beam's S3 options for a run against this server."""
        return endpoint_flags(self.endpoint)

    def use_in_process(self) -> None:
        """Point Beam's FileSystems of this process at the server (as a run does)."""
        from apache_beam.io.filesystems import FileSystems
        from apache_beam.options.pipeline_options import PipelineOptions

        FileSystems.set_options(PipelineOptions(self.flags))


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    pytest.importorskip("apache_beam.io.aws.s3filesystem")
    # Credentials are given; never ask an instance-metadata service for others.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its buckets in the test process, not in the server: a server started
        # after another in the same pytest worker saw its objects (a test's `root/_runs/`
        # in the next test's bucket). Each server starts empty.
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=30).close()
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield S3Server(endpoint, BUCKET)
    finally:
        server.stop()
