"""Code the stages share; none of it is a stage. What each module holds is in the tree of
docs/architecture.md, which tests/test_docs.py keeps complete (a list here named six of
the thirty-odd modules and fell behind)."""
