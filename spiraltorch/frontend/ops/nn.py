"""Public nn ops (being written)."""

__all__: list[str] = []
