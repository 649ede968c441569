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
# The version of the folder as a whole, in CURRENT.json and each version's state.json: the
# gate every NewsBeam checks before it reads anything (exit 2 for a version it does not
# read). It is the table version but where a release writes state that earlier releases of
# the same table version misread without noticing; they are shut out by a new folder
# version, which they refuse, while the tables (and their files' stamp) stay as they are.
# 3 (review 59): releases before it took a relative guid resolved against the feed's URL
# (every entry of such a feed read again, as new) and wrote the seen entries back without
# `page_failures` and `version` (pending page retries and updates lost for good).
STATE_FOLDER_VERSION = "3"
STATE_FOLDER_VERSIONS_READ = ("2", STATE_FOLDER_VERSION)
STATE_MARKER = "state.json"
STATE_VERSION_KEY = b"newsbeam.state_version"
