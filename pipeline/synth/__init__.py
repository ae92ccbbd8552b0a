"""Synthetic datasets with tunable per-modality signal, for tests, benchmarks and scale runs."""

from pipeline.synth.config import SynthConfig
from pipeline.synth.embeddings import load_synthetic_embeddings, write_synthetic_embeddings
from pipeline.synth.write import write_synthetic_dataset

__all__ = ["SynthConfig", "load_synthetic_embeddings", "write_synthetic_dataset", "write_synthetic_embeddings"]
