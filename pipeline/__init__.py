"""Options, pipeline assembly and the command-line entry point."""
