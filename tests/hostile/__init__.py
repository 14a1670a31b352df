"""Hostile input: the corpus (cases.py and the files beside it), run by tests/test_hostile.py."""
