"""The fake Marketo's bulk lead extract: create, enqueue, status, file with Range, cancel, list
jobs; quotas (1029).

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_bulk()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.
"""

from __future__ import annotations


class BulkExtractMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = []

    def _init_bulk(self):
        pass
