"""The HTTP edge: inbound routes, wire formats, and the one place errors are formatted."""
