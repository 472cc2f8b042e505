"""Tests of the recommender library (no app, no database)."""
