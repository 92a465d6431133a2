"""Outbound adapters, one module per upstream wire protocol, registered in ``registry.py``."""
