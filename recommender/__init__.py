"""Collaborative filtering for the shop."""
