"""Findings for readers: each finding's message, remedy, evidence, missing facts and suggestion, and field labels."""
