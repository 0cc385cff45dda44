"""The `spiral` dialect's ops, one file per family; `spiraltorch.ir.dialect` collects them."""
