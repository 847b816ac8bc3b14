"""`python -m tests.support.ollama_stub [--port 11434] [--demo | --search | --answer-file F]`."""

from tests.support.ollama_stub.app import main

main()
