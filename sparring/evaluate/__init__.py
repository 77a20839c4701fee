"""Evaluation that cannot lie: arena with intervals, exact exploitability."""
