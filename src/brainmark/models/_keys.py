"""Cache keys shared by activation extraction and image placement."""

from __future__ import annotations

import hashlib
from pathlib import Path

from brainmark.data.stimuli import StimulusSet


def stimuli_key(stimuli: StimulusSet) -> str:
    """Identifier + SHA1 of the sorted (id, file name) pairs; without one, of the files.

    The pairs guard against a subset or a re-packaged set reusing its parent's identifier;
    a set without identifier is keyed by its files' contents.
    """
    ids = sorted(dict.fromkeys(str(sid) for sid in stimuli["stimulus_id"]))
    digest = hashlib.sha1()
    if stimuli.identifier:
        for sid in ids:
            digest.update(f"{sid}\t{Path(stimuli.get_stimulus(sid)).name}\n".encode())
        return f"{stimuli.identifier}:{digest.hexdigest()}"
    for sid in ids:
        digest.update(f"{sid}\t".encode())
        digest.update(hashlib.sha1(Path(stimuli.get_stimulus(sid)).read_bytes()).digest())
    return f"files:{digest.hexdigest()}"
