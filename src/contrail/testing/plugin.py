"""pytest plugin registered by the ``contrail-llmops`` distribution (entry point ``pytest11``)."""
