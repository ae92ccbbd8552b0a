"""GraphFuse: multimodal learning on graphs, as a reproducible pipeline.

The library is free of Prefect and DVC; only :mod:`pipeline.tracking` talks to MLflow.
"""

__version__ = "0.1.0"
