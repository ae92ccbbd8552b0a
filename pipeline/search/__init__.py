"""Search over the model zoo, selection on folds, and a weighted ensemble (``train.search: auto``).

One module a job: :mod:`~pipeline.search.settings` (the budget), :mod:`~pipeline.search.space`
(what a trial may choose), :mod:`~pipeline.search.folds` (where it is scored),
:mod:`~pipeline.search.cross_fit` (one candidate on every fold), :mod:`~pipeline.search.study`
(Optuna's stored study), :mod:`~pipeline.search.ensemble` (Caruana's greedy selection),
:mod:`~pipeline.search.smoothing` (Correct & Smooth's strength on the folds),
:mod:`~pipeline.training.refit` (the chosen members trained on the pipeline's split) and
:mod:`~pipeline.search.run` (all of it, for the train stage).
"""
