"""Canonical types and the request pipeline: the layer every other layer imports."""
