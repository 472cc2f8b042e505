"""Domain events: stored in the transaction that causes them, published after commit."""
