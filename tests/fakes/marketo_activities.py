"""The fake Marketo's activities: types, custom activity types (create, attributes, approve),
adding activities, lead changes and paging tokens, program members.

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_activities()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.
"""

from __future__ import annotations


class ActivitiesMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = []

    def _init_activities(self):
        pass
