"""Accessward: who can still act as our brand on social media, and should they?

This package is the thin application shell: CLI, settings, wiring. The work is done in
connectors/, sync/, reconcile/ and reports/.
"""

__version__ = "0.1.0"
