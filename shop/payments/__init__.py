"""Payments: the gateway interface, Stripe behind it, attempts, webhooks, refunds."""
