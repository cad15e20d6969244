"""Storage backends for the inventory."""
