"""IR passes. Every pass is registered in `spiraltorch.passes.registry`."""
