"""`python -m newsbeam.pipeline`: the same command as `newsbeam`."""

import sys

from newsbeam.pipeline.main import main

sys.exit(main())
