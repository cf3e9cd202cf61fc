"""Evaluation: datasets, metrics, baselines and reports over the same service as the API."""
