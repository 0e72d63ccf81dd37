"""The bundled reference implementation of the four progress protocols.

It never imports ``harness``: a bug shared by both sides would hide itself.
"""
