"""Graph construction: the dataset's own edges and the node features as one PyG ``Data``."""

from pipeline.graph.build import EdgeReport, build_edge_index, build_graph
from pipeline.graph.store import GraphMeta, load_graph, save_graph

__all__ = ["EdgeReport", "GraphMeta", "build_edge_index", "build_graph", "load_graph", "save_graph"]
