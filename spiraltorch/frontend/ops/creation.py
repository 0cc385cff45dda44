"""Public creation ops (being written)."""

__all__: list[str] = []
