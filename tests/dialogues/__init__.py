"""Recorded dialogues: YAML files collected by conftest.py, one test each."""
