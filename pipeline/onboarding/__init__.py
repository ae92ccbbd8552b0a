"""``graphfuse init``: from a raw table of nodes (and edges, images) to a validated dataset folder.

Kept apart from :mod:`pipeline.dataset` (the format itself, a dependency of every stage): guessing
roles and copying files is a one-off for a person at a terminal, not something a stage runs.
"""
