"""`python -m salescontrol …`: the `salescontrol` command line."""

import sys

from salescontrol.cli import main

sys.exit(main())
