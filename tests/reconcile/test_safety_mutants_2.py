"""Tests that kill the mutants ``make mutate`` found surviving in plan.py, executor.py and takes.py (issue 12).

Each test names the mutant it kills (mutmut 3 names: ``module.x_function__mutmut_N``).
"""

from __future__ import annotations
