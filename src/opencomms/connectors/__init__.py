"""Connectors: one module per provider behind the small interface of `base`."""
