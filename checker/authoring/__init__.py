"""Tools for policy authors: rule tests and coverage, the rule catalogue, diffs between rule sets."""
