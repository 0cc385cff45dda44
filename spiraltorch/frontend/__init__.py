"""The tracing frontend: proxy tensors, public ops, pytrees and `st.compile`."""
