"""Where each stage reads and writes, relative to the project root; dvc.yaml names the same."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    root: Path = Path(".")

    def under_root(self, path: str | Path) -> Path:
        """A path from params.yaml: relative ones are relative to the project root, not the cwd."""
        path = Path(path)
        return path if path.is_absolute() else self.root / path

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def dataset(self) -> Path:
        """validate's output: nodes, edges and split as parquet plus a report."""
        return self.processed / "dataset"

    @property
    def features(self) -> Path:
        """One folder per modality: ``x.npy``, ``mask.npy``, ``manifest.json``."""
        return self.processed / "features"

    def feature_file(self, modality: str) -> Path:
        return self.features / modality

    @property
    def graph(self) -> Path:
        return self.processed / "graph"

    @property
    def model(self) -> Path:
        return self.root / "models"

    @property
    def checkpoints(self) -> Path:
        """The train stage's resumable state; not a DVC output, removed when training succeeds."""
        return self.root / ".checkpoints"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def plots(self) -> Path:
        return self.root / "plots"
