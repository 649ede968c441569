"""The Flex Template's program (deploy/Dockerfile, FLEX_TEMPLATE_PYTHON_PY_FILE): the
`newsbeam` command, with the template's parameters and Dataflow's flags as its arguments."""

import sys

from newsbeam.pipeline.main import main

if __name__ == "__main__":
    sys.exit(main())
