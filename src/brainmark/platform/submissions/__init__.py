"""Submissions and the scoring jobs planned for them (rows; the pipeline processes them)."""
