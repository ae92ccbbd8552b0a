"""Operating GraphFuse's services: a local Prefect server, and the team stack on real servers.

Nothing here is imported by the stages; the CLI imports it lazily.
"""
