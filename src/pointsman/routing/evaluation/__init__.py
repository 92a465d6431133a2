"""Offline evaluation of routers on per-prompt outcomes (``pointsman route eval``).

``data`` loads outcome tables, ``routers`` holds the routers compared, ``metrics`` computes the
exact-sweep curves, APGR/CPT and bootstrap intervals, ``run`` evaluates a line-up on one table and
``report`` renders the result as JSON, Rich tables or a PNG.
"""
