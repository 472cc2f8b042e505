"""Measuring the shop: recommendation quality offline and online, customer analytics."""
