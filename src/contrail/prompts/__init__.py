"""The prompt registry: versioned, labelled prompt templates per project.

Modules (import the one you need; this package itself stays light so the SDK can use the pure ones):

- ``template``: ``parse(text)`` → Template (cached) and strict ``render``; TemplateError, RenderError.
- ``content``: ``check_content(type, prompt, config)`` → Content (text or chat, 1 MB limit),
  ``compile_content(content, values, allow_extra=False)``.
- ``names``: ``check_prompt_name``, ``check_label``; ``LATEST``/``PRODUCTION``.
- ``model``: PromptVersion, PromptSummary, LabelEvent; PromptNotFoundError, PromptConflictError.
- ``registry`` (database): ``create_version``, ``set_labels``, ``add_labels``, ``delete_prompt``,
  ``delete_version`` — atomic per prompt across server processes.
- ``lookup`` (database): ``get_version``, ``list_prompts``, ``list_versions``, ``label_history``,
  ``diff_stored_versions``.
- ``diff``: ``diff_versions(a, b)`` → VersionDiff (lines for a UI, and unified text).
- ``files``: prompts as YAML files (``contrail prompts push/pull``).
"""
