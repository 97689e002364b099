"""Faithful simulators of the outside APIs, run on loopback ports by tests and ``accessward demo``."""
