"""The fake Marketo's Companies API: describe, get by filter and sync.

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_companies()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.
"""

from __future__ import annotations


class CompaniesMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = []

    def _init_companies(self):
        pass
