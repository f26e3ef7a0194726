"""Kriegeskorte et al. 2008, 92 images: stimuli, monkey and human IT RDMs, similarity
judgements. Registrations only; see loaders.py and README.md."""

from brainmark.registry import data_registry, stimulus_set_registry

from .loaders import (
    load_behavior_similarity,
    load_human_it,
    load_human_it_sessions,
    load_human_it_subjects,
    load_model_rdms,
    load_monkey_it,
    load_stimulus_set,
)

stimulus_set_registry["Kriegeskorte2008"] = load_stimulus_set
data_registry["Kriegeskorte2008.mIT"] = load_monkey_it
data_registry["Kriegeskorte2008.hIT"] = load_human_it
data_registry["Kriegeskorte2008.hIT-sessions"] = load_human_it_sessions
data_registry["Kriegeskorte2008.hIT-subjects"] = load_human_it_subjects
data_registry["Kriegeskorte2008.behavior-similarity"] = load_behavior_similarity
data_registry["Kriegeskorte2008.model-RDMs"] = load_model_rdms
