"""Matching: from a suspect image to verdicts (see matcher.py for the data path)."""
