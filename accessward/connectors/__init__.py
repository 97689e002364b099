"""Connectors: one module per outside system.

A connector speaks one API and yields plain records (``connectors.records``); it knows nothing
of the store. Shared parts live here once: the HTTP client (``connectors.http``), the error
taxonomy (``connectors.errors``) and the small protocols every connector implements
(``connectors.protocols``).
"""
