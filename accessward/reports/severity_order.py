"""Severities from the worst down, as reports sort and chart them."""

SEVERITY_ORDER = ("critical", "high", "medium", "low")
