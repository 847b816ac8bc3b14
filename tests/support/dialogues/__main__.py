"""`python -m tests.support.dialogues record FILE --ollama URL`."""

import sys

from tests.support.dialogues.cli import main

sys.exit(main())
