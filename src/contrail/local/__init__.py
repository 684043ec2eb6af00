"""Offline LLMs: a scripted fake provider (:mod:`contrail.local.fake`) and a real small local model
(:mod:`contrail.local.model`, extra ``local``). Importing this package imports neither."""
