"""Recommendation settings and rules: drafts, published revisions, preview and experiments."""
