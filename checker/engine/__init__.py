"""Evaluating batches: loading the packs (and their cache), the window index of cross-record rules, the engine."""
