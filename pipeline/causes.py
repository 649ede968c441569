"""A failed run's cause in one readable line (`failure_line`), also when Beam hands a worker
process's failure back as its traceback's text. The command (main.py), one run's failed
record (run.py) and follow mode (follow.py) say the same line: it lives here, below all
three, so that none imports the entry point."""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence

# Words in a failure that mean the runner (a job service over gRPC) could not be reached.
_UNREACHABLE_WORDS = ("connect", "unavailable", "refused", "grpc", "deadline", "timeout")


def runs_on_a_service(argv: Sequence[str]) -> bool:
    """Whether the command line hands the pipeline to a runner's job service (a portable,
    Flink, Spark or Dataflow runner), which a failed connection may be about."""
    for index, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in ("--job_endpoint", "--flink_master", "--spark_master_url"):
            return True
        if name == "--runner":
            value = value or (argv[index + 1] if index + 1 < len(argv) else "")
            if any(kind in value for kind in ("Portable", "Flink", "Spark", "Prism", "Dataflow")):
                return True
    return False


def failure_line(error: BaseException, argv: Sequence[str] | None = None) -> str:
    """One readable line for a failed run: the innermost cause and what to do. A failed
    connection is blamed on the runner's job service only when `argv` names one (None: not
    known); in a local run it is what the run reads or writes."""
    from newsbeam.pipeline.workers import WorkerEnded

    cause = error
    while True:  # `raise ... from None` ends the chain, as in Python's own tracebacks
        inner = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
        # Beam's retry decorator raises the last failure again inside `except StopIteration`
        # (its delays ran out): that StopIteration was named as the run's cause.
        if inner is None or isinstance(inner, StopIteration):
            break
        cause = inner
    if isinstance(cause, WorkerEnded):
        hint = "see the worker's messages above, or --log_level DEBUG"
        if "SIGKILL" in str(cause):
            hint = "fewer workers need less memory (--direct_num_workers 1 runs in one process)"
        return f"the run failed: {cause}; {hint}"
    kind, message = type(cause), str(cause)
    remote = traceback_exception(message)
    if remote is not None:  # a worker process's failure, handed back as its traceback's text
        name, message = remote
        kind = exception_type(name)
    if kind.__name__ == "StoreDenied":  # its message names the call, object and check
        return f"the run failed: {' '.join(message.split())}"
    if issubclass(kind, MemoryError):  # its message is empty or a size: say what it means
        return (
            "the run failed: it ran out of memory (MemoryError); nothing committed, the state "
            "as it was; --max_files_per_run N reads the input in passes of N files, "
            "--direct_num_workers 1 runs in one process"
        )
    if issubclass(kind, PermissionError) and isinstance(cause, PermissionError):
        # The operating system's refusal names the path; say what was refused and where
        # to look, as a store's refusal does (`files.denied_message`).
        where = cause.filename or "a path of the run"
        return (
            f"the run failed: permission denied: cannot open or change {where}: check that "
            "the user running newsbeam may read and write there (--output, --state)"
        )
    text = " ".join(message.split()) or kind.__name__
    if len(text) > 300:
        text = text[:300] + "..."
    names = f"{type(error).__name__} {kind.__name__} {text}".lower()
    unreachable = any(word in names for word in _UNREACHABLE_WORDS)
    if unreachable and (argv is None or runs_on_a_service(argv)):
        text = f"the runner's job service did not answer ({text})"
        hint = "check that it is running and reachable (--job_endpoint, --flink_master, "
        hint += "--spark_master_url) or run in-process without --runner"
    elif unreachable:
        hint = "check that what the run reads and writes can be reached (an object store's "
        hint += "--s3_endpoint_url, the servers of --feed and --input URLs)"
    elif issubclass(kind, PermissionError | FileNotFoundError | IsADirectoryError):
        hint = "check the paths and permissions of --output, --state and the inputs"
    elif issubclass(kind, OSError):
        hint = "check free space and permissions where --output and --state live"
    else:
        hint = "see the traceback with --log_level DEBUG"
    if not text.startswith("the runner"):
        text = f"{kind.__name__}: {text}"
    return f"the run failed: {text}; {hint}"


# The last line of a Python traceback: `module.Name: message`.
EXCEPTION_LINE = re.compile(r"((?:[A-Za-z_]\w*\.)*[A-Z]\w*): (.*)")
_BARE_ERROR = re.compile(r"(?:[A-Za-z_]\w*\.)*[A-Z]\w*Error")


def traceback_exception(text: str) -> tuple[str, str] | None:
    """The exception a traceback's text ends with, as (type name, message); None when
    `text` is no traceback. Beam's local runner hands a failure in a worker process back
    as a RuntimeError whose message is the worker's traceback, ending in e.g.
    `RuntimeError: OSError: [Errno 28] ... No space left on device [while running 'X']`:
    the wrappers Beam added (`RuntimeError: `) are taken off, so the cause reads as if the
    run had raised it in this process."""
    if not text.lstrip().startswith("Traceback (most recent call last):"):
        return None
    for line in reversed(text.splitlines()):
        match = EXCEPTION_LINE.fullmatch(line.rstrip())
        if match is None:
            # An exception raised with no message ends its traceback with its name alone.
            if _BARE_ERROR.fullmatch(line.strip()):
                return line.strip(), ""
            continue
        name, message = match.groups()
        inner = EXCEPTION_LINE.fullmatch(message)
        while name == "RuntimeError" and inner is not None:
            name, message = inner.groups()
            inner = EXCEPTION_LINE.fullmatch(message)
        return name, message
    return None


def exception_type(name: str) -> type[BaseException]:
    """The built-in exception class a traceback names (`OSError`, `builtins.OSError`);
    Exception for any other, which only its name then describes."""
    found = getattr(builtins, name.rpartition(".")[2], None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return type(name.rpartition(".")[2], (Exception,), {})
