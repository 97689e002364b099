"""Exports for auditors. Reports only read the store."""
