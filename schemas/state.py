"""The state folder (`--state DIR`): what lasts from one run to the next.

DIR holds one subfolder per component (`dedup/`, `feed_state/`, `feeds/`, ...), each of
Parquet files with schemas defined in this package, and `state.json`, whose
`state_version` says which layout the folder has. A run reads DIR, writes the complete new
state into a staging folder, and swaps it in when the run has succeeded.
"""

from __future__ import annotations

# Bump on any change to a state component's tables; a run refuses state of another version
# rather than misreading or overwriting it.
# 2: stories keep term counts (not weights) and a story_terms table of document frequencies.
STATE_VERSION = "2"
STATE_MARKER = "state.json"
STATE_VERSION_KEY = b"newsbeam.state_version"
