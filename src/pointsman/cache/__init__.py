"""The response cache: exact and semantic, scoped per tenant (see ``docs/cache.md``).

The gateway builds one :class:`~pointsman.cache.service.ResponseCache` per process and asks it
for each config snapshot's :class:`~pointsman.cache.stage.CacheStage`. (This module imports
nothing, so that ``config.py`` can import :mod:`pointsman.cache.settings` without a cycle.)
"""
