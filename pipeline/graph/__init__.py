"""Graph construction: the dataset's own edges and the node features as one PyG ``Data``."""

from pipeline.graph.build import EdgeReport, build_edge_index, build_graph
from pipeline.graph.knn import EDGE_SOURCES, KnnReport, add_knn_edges, dataset_and_knn_edges
from pipeline.graph.stats import graph_stats
from pipeline.graph.store import GraphMeta, load_graph, save_graph

__all__ = [
    "EDGE_SOURCES",
    "EdgeReport",
    "GraphMeta",
    "KnnReport",
    "add_knn_edges",
    "build_edge_index",
    "build_graph",
    "dataset_and_knn_edges",
    "graph_stats",
    "load_graph",
    "save_graph",
]
