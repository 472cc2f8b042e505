"""Returns: shoppers send items of a dispatched order back, and staff refund them on arrival."""
