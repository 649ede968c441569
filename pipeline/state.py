"""The `--state DIR` folder's life cycle: check it, stage the next one, swap it in.

Stages read the previous state from `PipelineConfig.state_dir` (None: no state yet) and
write their complete new state into `PipelineConfig.state_out_dir/<component>/`. A
component this run did not write (no feeds in this run, say) is carried over unchanged,
so one kind of run never wipes another's state.

Missing state starts empty. State that is not NewsBeam's, is corrupt, or is of another
`STATE_VERSION` stops the run before anything runs, and is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from newsbeam.schemas import STATE_MARKER, STATE_VERSION


class StateError(Exception):
    """The state folder cannot be used; nothing was run and nothing was changed."""


def check_state_dir(state: Path) -> bool:
    """Raise StateError unless `state` is usable; True when it holds earlier state."""
    if not state.exists():
        return False
    if not state.is_dir():
        raise StateError(f"--state {state} exists and is not a folder")
    marker = state / STATE_MARKER
    if not marker.exists():
        if any(state.iterdir()):
            raise StateError(
                f"--state {state} is not empty and holds no {STATE_MARKER}: it does not look "
                "like NewsBeam state, so it will be neither read nor replaced"
            )
        return False
    try:
        version = json.loads(marker.read_text())["state_version"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StateError(f"--state {state}: {STATE_MARKER} is unreadable ({error})") from error
    if str(version) != STATE_VERSION:
        raise StateError(
            f"--state {state} holds state version {version}, and this NewsBeam reads version "
            f"{STATE_VERSION}; point --state at a new folder (the old one is left as it is)"
        )
    return True


def staging_dir_for(state: Path) -> Path:
    """A fresh folder beside `state` for the run's new state."""
    staging = state.parent / f".{state.name}.newsbeam-{uuid.uuid4().hex[:12]}.tmp"
    staging.mkdir(parents=True)
    return staging


def commit_state(staging: Path, state: Path, summary: dict[str, Any]) -> None:
    """Carry over untouched components, write the marker, swap `staging` into `state`."""
    if state.is_dir():
        for component in sorted(state.iterdir()):
            if component.is_dir() and not (staging / component.name).exists():
                shutil.copytree(component, staging / component.name)
    marker = {
        "state_version": STATE_VERSION,
        "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "components": sorted(p.name for p in staging.iterdir() if p.is_dir()),
        **summary,
    }
    (staging / STATE_MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    swap_into_place(staging, state)


def swap_into_place(staging: Path, target: Path) -> None:
    """Replace `target` by `staging` with two renames; the old folder is deleted last."""
    retired = None
    if target.exists():
        retired = target.parent / f".{target.name}.newsbeam-{uuid.uuid4().hex[:12]}.old"
        target.rename(retired)
    staging.rename(target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
