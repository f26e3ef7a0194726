"""Conformance checks and assertions for plugin authors (as sklearn's estimator_checks).

Each plugin's ``test.py``, ``brainmark test PATH`` and the submission pipeline call these.
"""
