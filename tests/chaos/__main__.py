"""`python -m tests.chaos` is `python -m tests.chaos.run`."""

import sys

from tests.chaos.run import main

sys.exit(main())
