"""Recorded dialogues (YAML files collected by conftest.py).

A package so that its conftest module does not shadow tests/conftest.py, which
the other test modules import as `conftest`.
"""
