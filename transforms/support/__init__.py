"""Code the stages share; none of it is a stage.

- failures.py  rejected rows, the dead-letter ParDo wrapper, the metrics namespace
- state.py     the `--state` folder: its life cycle, reading, checking and writing its tables
- rank.py      the canonical-copy rank (dedup and stories)
- text.py      word features (topic tagger and its training script)
- lexicons.py  the word lists in data/lexicons/, loaded once per process
"""
