"""Clients Beam imports with itself and a local run never calls, imported on first use.

`import apache_beam` imports, among much else, three HTTP and cloud clients at module level
and uses them only inside functions: boto3 for its S3 filesystem (`io/aws/clients/s3/
boto3_client.py`, with botocore, s3transfer and urllib3), httplib2 for staging artifacts
(`internal/http_client.py`) and requests for the GCE metadata server
(`io/gcp/gce_metadata_util.py`). Where they are installed (boto3 with `newsbeam[aws]` and
the `dev` extras that `make setup` installs), they were ~30% of the command's Beam import
(0.80 -> 0.56 s on a quiet 2-core host, fresh interpreters, medians), which comes before
the worker template forks (pipeline/worker_template.py).

`defer_client_imports` puts a stand-in module for each in `sys.modules` before Beam is
imported: `import boto3` then binds the stand-in, and the first attribute read from it
(`boto3.session`, `from boto3 import client`, a submodule's import) imports the real module,
which replaces the stand-in in `sys.modules`; every later read goes to the real module. A
run that writes to `s3://` loads boto3 when Beam's S3 client is made, as before; a local run
never does. importlib's own `LazyLoader` does not serve here: the import statement reads the
module's `__spec__` (is it still initialising?), and any attribute read of a lazy module
loads it, so Beam's `import boto3` loaded it at once.

Only the `newsbeam` command and its workers do this (`workers.settle_process`); importing
NewsBeam as a library leaves the import system alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

# Imported by `import apache_beam`, used only inside functions a local run does not call.
CLIENT_MODULES = ("boto3", "httplib2", "requests")

# One real import at a time: two threads reading a stand-in at once import once.
_LOADING = threading.Lock()


class DeferredModule(types.ModuleType):
    """A stand-in for a module not imported yet: reading an attribute it lacks imports the
    real module and reads it there."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(load(self.__name__), attribute)


def load(name: str) -> types.ModuleType:
    """The real module `name`, imported now if only its stand-in was there."""
    with _LOADING:
        present = sys.modules.get(name)
        if present is not None and not isinstance(present, DeferredModule):
            return present
        if present is not None:
            del sys.modules[name]
        try:
            return importlib.import_module(name)
        except BaseException:
            # Not importable after all (a broken install): the stand-in stays, and each
            # use raises the import's error, as the import itself would have.
            if present is not None:
                sys.modules.setdefault(name, present)
            raise


def defer(name: str) -> bool:
    """Put a stand-in for `name` in `sys.modules` when it is installed and not imported yet;
    whether it did."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False  # not installed: Beam's `except ImportError` goes on as without us
    stand_in = DeferredModule(name)
    # The real module's spec (`find_spec` callers see where it is), not initialising: the
    # import statement returns the stand-in without reading anything else of it.
    stand_in.__spec__ = spec
    # What code that walks `sys.modules` reads of each module (inspect, pickling, warnings),
    # answered without an import. Not `__path__`: a submodule's import must load the package.
    stand_in.__file__ = spec.origin
    stand_in.__loader__ = spec.loader
    stand_in.__package__ = spec.parent
    sys.modules[name] = stand_in
    return True


def defer_client_imports() -> list[str]:
    """Stand-ins for `CLIENT_MODULES`, before Beam's import; the names deferred."""
    return [name for name in CLIENT_MODULES if defer(name)]
