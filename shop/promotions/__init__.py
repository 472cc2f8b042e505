"""Discount codes: what a merchandiser offers, and how the cart and checkout apply it."""
