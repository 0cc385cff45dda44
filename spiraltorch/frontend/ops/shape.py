"""Public shape ops (being written)."""

__all__: list[str] = []
