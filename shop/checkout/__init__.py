"""Checkout: contact and address, shipping method, review, order placement with stock held."""
