"""An object store that goes away mid-run (an S3-compatible server on 127.0.0.1 behind a
TCP relay the test closes): the run fails within --store_retry_seconds and a backoff, with
one message, and commits nothing. Before, Beam's client retried each call for ~13 minutes."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import stopped_at
from tests.s3_server import endpoint_flags, s3_server

pytest.importorskip("boto3")


class Relay:
    """A TCP relay on 127.0.0.1 to `upstream`: `close()` is the store going away (its port
    refuses connections, open ones are cut) while the server behind keeps its objects."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                return  # closed
            with self.lock:
                self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        # Shut down first: a close alone leaves the socket listening while a thread is in
        # accept() (the kernel keeps it for that call).
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for each in self.sockets:
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)
                each.close()


@contextlib.contextmanager
def relayed_store() -> Iterator[tuple[Relay, object]]:
    with s3_server() as server:
        host, port = server.endpoint.removeprefix("http://").split(":")
        relay = Relay((host, int(port)))
        try:
            yield relay, server.client()
        finally:
            relay.close()


def _pages(folder: Path, count: int) -> None:
    """`count` small pages: the run stops itself once they are listed (`_gone_after_listing`),
    so the store goes away mid-run without pages slow enough to outlast the test (16 pages
    of 0.4 s each before: 190-250 s a test on a loaded host)."""
    folder.mkdir()
    for number in range(count):
        words = " ".join(f"w{i}p{number}" for i in range(60))
        page = f"<html><body><article><p>Page {number}. {words}</p></article></body></html>"
        (folder / f"page{number}.html").write_text(page)


def _gone_after_listing(relay: Relay, command: list[str], timeout: float) -> tuple[int, str]:
    """Run `command` (in process: `--direct_num_workers 1`), stopped at crash point
    `inputs-listed` (every input listed, none read, the store used for the checks and the
    listing), the store taken away, then resumed: its exit code and stderr."""
    run = stopped_at("inputs-listed", command=command)
    relay.close()
    run.send_signal(signal.SIGCONT)
    try:
        _, err = run.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.kill()
        run.communicate()
        pytest.fail(f"the run still waited for the store after {timeout} s")
    return run.returncode, err


@pytest.mark.slow
def test_a_store_gone_mid_run_fails_the_run_quickly_and_commits_nothing(
    tmp_path: Path,
) -> None:
    _pages(tmp_path / "in", 2)
    with relayed_store() as (relay, client):
        flags = endpoint_flags(f"http://127.0.0.1:{relay.port}")
        command = [sys.executable, "-m", "newsbeam.pipeline", "--input", str(tmp_path / "in")]
        command += ["--output", "s3://newsbeam-tests/root", "--run_id", "gone"]
        command += ["--store_retry_seconds", "3", "--direct_num_workers", "1", *flags]
        # Beam's own retries took ~13 minutes.
        returncode, rest = _gone_after_listing(relay, command, timeout=120)
        errors = [line for line in rest.splitlines() if line.startswith("ERROR")]
        assert returncode == 1, rest[-2000:]
        assert errors[-1].startswith("ERROR newsbeam: the run failed: StoreUnreachable: ")
        assert "has not answered for" in errors[-1] and "--store_retry_seconds 3" in errors[-1]
        assert "nothing was committed" in errors[-1]
        # How long the store went unanswered before the run gave up, as the run itself
        # measured it (not the wall time since the relay closed, which holds the pipeline's
        # start on a loaded host too): 3 s of calls, then at most one of Beam's doubling waits.
        unanswered = re.search(r"has not answered for (\d+) s", errors[-1])
        assert unanswered is not None and int(unanswered.group(1)) < 30, errors[-1]
        assert "Traceback" not in rest  # Beam's retries and failed uploads: one line each
        # Nothing committed: no manifest, no table file outside the run's staging.
        listed = client.list_objects_v2(Bucket="newsbeam-tests", Prefix="root/")
        keys = [item["Key"] for item in listed.get("Contents", [])]
        assert not [key for key in keys if key.startswith("root/_runs/")]
        assert not [key for key in keys if key.endswith(".parquet") and "_staging" not in key]


def test_calls_to_a_store_gone_give_up_after_the_time_allowed() -> None:
    # What the commit and the state do through files.py: a store that answered, then went.
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    import newsbeam.pipeline.options  # noqa: F401 (registers --store_retry_seconds)
    from newsbeam.transforms.support import files

    with relayed_store() as (relay, _):
        flags = [*endpoint_flags(f"http://127.0.0.1:{relay.port}"), "--store_retry_seconds=2"]
        FileSystems.set_options(PipelineOptions(flags))
        try:
            path = "s3://newsbeam-tests/root/_commit.json"
            files.write_json(path, {"run": 1})
            assert files.read_json(path) == {"run": 1}
            relay.close()
            started = time.monotonic()
            with pytest.raises(Exception, match="has not answered for") as failed:
                files.exists(path)
            # 2 s of calls and one of Beam's waits (2.5-7.5 s), not Beam's 7 doubling ones.
            assert time.monotonic() - started < 30
            assert "--store_retry_seconds 2" in str(failed.value)
            started = time.monotonic()  # the next call fails at once: the store is still gone
            with pytest.raises(Exception, match="has not answered for"):
                files.read_json(path)
            assert time.monotonic() - started < 5
        finally:
            FileSystems.set_options(None)


@contextlib.contextmanager
def silent_store() -> Iterator[int]:
    """A port that accepts connections and reads requests but never answers (a hung
    server, or a load balancer whose backends are gone)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)  # kept open, never answered

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for connection in held:
            connection.close()


def test_a_store_that_never_answers_fails_within_the_time_allowed() -> None:
    # Before: each call waited boto's 30 s read timeout twice, and the time allowed was
    # counted from that failure on: 185 s "not answered" (4.6 minutes in all) with
    # --store_retry_seconds 60, here over 60 s with 2.
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    import newsbeam.pipeline.options  # noqa: F401 (registers --store_retry_seconds)
    from newsbeam.transforms.support import files

    pytest.importorskip("apache_beam.io.aws.s3filesystem")
    with silent_store() as port:
        flags = [*endpoint_flags(f"http://127.0.0.1:{port}"), "--store_retry_seconds=2"]
        FileSystems.set_options(PipelineOptions(flags))
        try:
            started = time.monotonic()
            with pytest.raises(Exception, match="has not answered for") as failed:
                files.exists("s3://newsbeam-tests/root/_commit.json")
            assert time.monotonic() - started < 15  # two attempts of 2 s, and a margin
            assert "--store_retry_seconds 2" in str(failed.value)
        finally:
            FileSystems.set_options(None)


def test_a_call_not_answered_within_the_time_allowed_is_retried_as_a_server_error() -> None:
    # boto's read timeout has `response = None`: Beam's client read it as a dict, and its
    # retry logged "AttributeError: 'NoneType' object has no attribute 'get'".
    from apache_beam.io.aws.clients.s3.boto3_client import get_http_error_code
    from botocore.exceptions import ReadTimeoutError

    from newsbeam.transforms.support import files

    def hung() -> None:
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:9/b/k", error="timed out")

    with pytest.raises(Exception) as raised:
        files._Unreachable(600, "http://127.0.0.1:9").call(hung)
    assert get_http_error_code(raised.value) is None  # retried by Beam's filter
    assert "Read timeout on endpoint URL" in str(raised.value)


@pytest.mark.slow
def test_inputs_on_a_store_gone_mid_run_fail_the_run_and_are_read_again(tmp_path: Path) -> None:
    # Before: the read stage listed and read s3:// inputs through Beam's own client, which
    # retried a store gone mid-read for over ten minutes (Beam's waits doubling to 307 s);
    # and an input it gave up on would have been an `unreadable` row, recorded in the
    # state as read: never read again once the store was back.
    _pages(tmp_path / "pages", 2)
    with relayed_store() as (relay, client):
        for page in sorted((tmp_path / "pages").iterdir()):
            client.upload_file(str(page), "newsbeam-tests", f"inbox/{page.name}")
        flags = endpoint_flags(f"http://127.0.0.1:{relay.port}")
        out, state = tmp_path / "out", tmp_path / "state"
        command = [
            sys.executable,
            "-m",
            "newsbeam.pipeline",
            "--input",
            "s3://newsbeam-tests/inbox",
        ]
        command += ["--output", str(out), "--state", str(state), "--store_retry_seconds", "3"]
        command += ["--direct_num_workers", "1", *flags]
        returncode, rest = _gone_after_listing(relay, command, timeout=120)
        assert returncode == 1, rest[-2000:]
        errors = [line for line in rest.splitlines() if line.startswith("ERROR newsbeam")]
        assert errors[-1].startswith("ERROR newsbeam: the run failed: StoreUnreachable: ")
        assert not list(out.glob("_runs/*.json"))  # nothing committed, nothing marked read
        assert not list(state.glob("versions/*/state.json"))
