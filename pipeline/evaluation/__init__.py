"""Metrics and plots for trained models."""
