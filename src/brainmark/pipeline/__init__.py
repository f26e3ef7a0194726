"""The submission pipeline's library half: what the platform does with a submission before,
and outside, any web request (safe unzip and validation first).

Modules here may import the library (``brainmark.*``) but never Django or
``brainmark.platform``: the platform calls them, and workers run them without a web stack.
"""
