"""The machinery every family shares: devices, precision, padding and batching."""
