"""The live-model scorecard (`salesbot dialogues score`): the recorded dialogues'
customer lines played against a live Ollama through the real service, and what
each turn cost and what the guard found in it, written for a person (`markdown`)
and for tools (`model`, score.json). `play` drives the turns, `guard_log`
watches the guard, `preflight` checks the URL and model first, `diff` compares
two runs, `command` is the command line."""
