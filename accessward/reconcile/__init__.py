"""Correlation, policy rules, plans and the safe executor."""
