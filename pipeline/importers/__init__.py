"""Importers: published multimodal-graph benchmarks' own layouts into format v1, one layout a file.

Each reads only what the user downloaded (no network), loads ``.pt`` files with
``torch.load(weights_only=True)``, extracts archives without trusting their paths or sizes, and
writes the dataset folder whole (or nothing) with an ``import_report.json`` of what it did.
"""

from pipeline.importers.archives import ArchiveLimits
from pipeline.importers.magb import import_magb
from pipeline.importers.mm_graph import import_mm_graph
from pipeline.importers.writer import ImportReport

__all__ = ["ArchiveLimits", "ImportReport", "import_magb", "import_mm_graph"]
