"""The loyalty programme: membership, tiers, points, preferences and member notifications.

It reacts to the shop's domain events (order_paid, order_refunded, ...); the shop never
calls it from checkout code.
"""
