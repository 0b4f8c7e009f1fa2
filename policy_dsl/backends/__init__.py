"""Backends: the IR compiled for an engine (`python.py`: closures; SQL later)."""
