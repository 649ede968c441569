"""A store whose policy refuses the run's credentials a read, write or listing (moto's
server on 127.0.0.1 enforcing an IAM user's policy), and a local path the run may not
change: the run ends with one line naming the operation, the object and what to check,
never the credentials. Before, it ended `S3ClientError: ('Access Denied', ...)`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from newsbeam.pipeline import causes
from newsbeam.transforms.support import files
from tests.helpers import raised_from
from tests.s3_server import REGION, s3_server

boto3 = pytest.importorskip("boto3")
requests = pytest.importorskip("requests")


def _pages(folder: Path, count: int) -> None:
    folder.mkdir()
    for number in range(count):
        words = "The council voted on the budget for the new library today. " * 20
        (folder / f"story{number}.txt").write_text(f"Story {number}\n\n{words}{number}")


def _run_denied(server: Any, tmp_path: Path, key: dict[str, str]) -> Any:
    """A run with the operator's credentials, its state on the store."""
    command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(tmp_path / "in")]
    command += ["--output", server.url("root"), "--state", server.url("state")]
    command += ["--run_id", "denied", f"--s3_endpoint_url={server.endpoint}"]
    command += [f"--s3_access_key_id={key['AccessKeyId']}", f"--s3_region_name={REGION}"]
    command += [f"--s3_secret_access_key={key['SecretAccessKey']}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_read_the_stores_policy_refuses_ends_the_run_naming_the_object(
    tmp_path: Path,
) -> None:
    _pages(tmp_path / "in", 3)
    with s3_server() as server:
        iam = boto3.client(
            "iam",
            endpoint_url=server.endpoint,
            aws_access_key_id="admin",
            aws_secret_access_key="admin",
            region_name=REGION,
        )
        iam.create_user(UserName="operator")
        bucket = f"arn:aws:s3:::{server.bucket}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": [bucket, f"{bucket}/*"]},
                # The state's prefix may be written, not read back.
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{bucket}/state/*"},
            ],
        }
        iam.put_user_policy(
            UserName="operator", PolicyName="no-state-reads", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="operator")["AccessKey"]
        # From here on moto checks every call's signature and the user's policy; its
        # setting is the test process's: put back for the other tests' servers.
        requests.post(f"{server.endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
        try:
            run = _run_denied(server, tmp_path, key)
        finally:
            requests.post(f"{server.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)
    assert run.returncode == 1, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    assert errors[-1].startswith(
        "ERROR newsbeam: the run failed: access denied: cannot read s3://newsbeam-tests/state/"
    ), errors
    assert "check the credentials' permissions on that prefix" in errors[-1]
    assert "nothing was committed" in errors[-1]
    assert key["SecretAccessKey"] not in run.stderr + run.stdout


def test_a_refused_call_is_named_by_its_operation_and_object() -> None:
    put = files.denied_message("put_object", {"Bucket": "bkt", "Key": "state/CURRENT.json"})
    assert put.startswith("access denied: cannot write s3://bkt/state/CURRENT.json: check")
    listed = files.denied_message("list_objects_v2", {"Bucket": "bkt", "Prefix": "root/_runs/"})
    assert listed.startswith("access denied: cannot list the prefix s3://bkt/root/_runs/:")
    parts = files.denied_message("upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u"})
    assert "cannot write s3://b/k:" in parts and "UploadId" not in parts
    gone = {"Delete": {"Objects": [{"Key": "root/a"}, {"Key": "root/b"}]}}
    assert "cannot delete 2 objects, the first s3://b/root/a:" in files.denied_message(
        "delete_objects", {"Bucket": "b", **gone}
    )


def test_a_copy_and_a_batch_deletes_refusals_name_their_objects() -> None:
    messages = pytest.importorskip("apache_beam.io.aws.clients.s3.messages")
    copied = files.denied_message("copy", {}, ({"Bucket": "b", "Key": "_staging/x"}, "b", "t/x"))
    assert "cannot copy s3://b/_staging/x to s3://b/t/x:" in copied
    # S3IO's batch delete answers each refused key with this error, raised by no call.
    error = messages.S3ClientError("Access Denied", "AccessDenied")
    refused = [("s3://b/state/CURRENT.json", error)]
    with pytest.raises(files.StoreDenied) as raised:
        files._raise_failures(refused, "delete")
    assert str(raised.value).startswith(
        "access denied: cannot delete s3://b/state/CURRENT.json: check the credentials'"
    )


def test_a_refusal_in_a_worker_process_keeps_its_line() -> None:
    # A worker's failure comes back as its traceback's text (pipeline/main.py).
    line = "access denied: cannot write s3://b/state/x: check the credentials' permissions"
    text = f"Traceback (most recent call last):\n  File ...\nRuntimeError: StoreDenied: {line}"
    assert causes.failure_line(RuntimeError(text)) == f"the run failed: {line}"


def _without_root_overrides() -> list[str]:
    """A command prefix under which the folders' modes hold for root too (the tests run as
    root here, whom no mode refuses): setpriv without the capabilities that override them."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop root's file-permission overrides")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", "--"]


@pytest.mark.slow
def test_a_state_folder_the_run_may_not_write_is_named_with_what_to_check(
    tmp_path: Path,
) -> None:
    _pages(tmp_path / "in", 3)
    state, output = tmp_path / "state", tmp_path / "out"
    command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(tmp_path / "in")]
    command += ["--output", str(output), "--state", str(state)]
    first = subprocess.run([*command, "--run_id", "a"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    (tmp_path / "in" / "new.txt").write_text("Another story\n\n" + "Words of a new story. " * 30)
    versions = state / "versions"
    versions.chmod(0o555)  # the launch checks the state folder itself, not what is in it
    try:
        run = subprocess.run(
            [*_without_root_overrides(), *command, "--run_id", "b"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        versions.chmod(0o755)
    assert run.returncode == 1, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    assert errors[-1].startswith(
        f"ERROR newsbeam: the run failed: permission denied: cannot open or change {versions}/b."
    ), errors
    assert "check that the user running newsbeam may read and write there" in errors[-1]


def test_a_local_path_the_run_may_not_change_is_named_with_what_to_check() -> None:
    # The error os.open raises for a read-only --state folder, raised under another.
    error = PermissionError(13, "Permission denied", "/srv/news/state/CURRENT.json")
    line = causes.failure_line(raised_from(error, RuntimeError("the commit failed")))
    assert line == (
        "the run failed: permission denied: cannot open or change "
        "/srv/news/state/CURRENT.json: check that the user running newsbeam may read and "
        "write there (--output, --state)"
    )
