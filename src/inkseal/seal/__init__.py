"""Sealing a work for publication. So far: the visible signature (seal/signature.py)."""
