"""What the test suite and the benchmarks share: the Ollama-protocol stub, the
recorded-dialogue harness, loopback helpers and well-formed model replies.

Not part of the service's wheel; imported as `tests.support` from the checkout.
"""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
SHARED = ROOT.parent / "shared"
FIXTURES = TESTS / "fixtures"
GRAPH_KB = FIXTURES / "graph_kb"
