"""Scale benchmark (``make bench``): see tests/bench/run.py."""
