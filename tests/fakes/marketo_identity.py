"""The fake Marketo's Munchkin cookie association (leads/{id}/associate.json) and the Companies API.

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_identity()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.
"""

from __future__ import annotations


class IdentityMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = []

    def _init_identity(self):
        pass
