"""Records shared by every layer: pydantic v2 models, ``extra="forbid"``.

Import them from their modules (``curator.models.findings``, ``curator.models.card``, ...): this package imports
nothing itself, so a command that needs only findings does not build every model at start-up.
"""
