"""The evaluate stage's output names, in a module that imports nothing: ``graphfuse metrics`` reads
them without loading torch or MLflow (it took 11-19 s for two file names)."""

METRICS_FILE = "metrics.json"  # the headline, the one DVC metric: `dvc metrics show` stays narrow
DETAIL_FILE = "metrics_detail.json"  # every figure: each split, per class, the spread over seeds
ABLATION_FILE = "ablation.json"
REGISTRY_FILE = "registry.json"
REPORT_FILE = "evaluation.html"
CONFUSION_CSV, CONFUSION_PNG = "confusion_test.csv", "confusion_test.png"
CURVES_PNG = "training_curves.png"
RELIABILITY_CSV, RELIABILITY_PNG = "reliability_test.csv", "reliability_test.png"
EMBEDDINGS_CSV, EMBEDDINGS_PNG = "embeddings.csv", "embeddings.png"
