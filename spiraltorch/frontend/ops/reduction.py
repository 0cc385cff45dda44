"""Public reduction ops (being written)."""

__all__: list[str] = []
