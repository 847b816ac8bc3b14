"""`python -m salescontrol.recorder --config FILE`: the agent without the server's CLI."""

import sys

from salescontrol.recorder.cli import main

sys.exit(main())
