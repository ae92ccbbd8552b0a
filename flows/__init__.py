"""Prefect flows: a thin flow per pipeline stage, and one for the whole pipeline.

Each flow only loads the typed params and calls :mod:`pipeline.stages` inside a task, so the
same work runs from ``dvc repro`` (one stage a process), from a Prefect deployment, or in tests.
"""
