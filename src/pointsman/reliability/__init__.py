"""Keeping requests alive when providers fail: the attempt loop, breakers, health."""
