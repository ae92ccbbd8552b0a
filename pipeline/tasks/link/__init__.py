"""Link prediction: edge split, negatives, decoders' training loop, ranking metrics, scoring."""
