"""Batch customer-data platform: land raw drops, build the customer view, gate, export."""

__version__ = "0.1.0"
