"""`python -m newsbeam.pipeline`: the same command as `newsbeam`."""

from newsbeam.pipeline.main import command

command()
