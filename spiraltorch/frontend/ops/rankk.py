"""Public rankk ops (being written)."""

__all__: list[str] = []
