"""Learning tasks beyond node classification; the stages switch on ``dataset.yaml``'s ``task``."""
