"""Scores yesterday's listings (a stand-in for a real Spark job)."""

import sys

print(f"scoring listings with {sys.argv[1:]}")
