"""Data packages users uploaded to the object store."""
