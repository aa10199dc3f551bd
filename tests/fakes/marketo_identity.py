"""The fake Marketo's Munchkin cookie association (leads/{id}/associate.json).

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_identity()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.

``POST /rest/v1/leads/{id}/associate.json?cookie=id:AAA-BBB-CCC%26token:_mch-…`` (integrations.md
§2.5): the cookie must be a whole ``_mkto_trk`` value (its ``&`` URL-encoded: a raw ``&`` splits
it and leaves ``id:…`` alone, which is refused), else 1012 "Invalid cookie value"; the lead must
exist, else 1004 "Lead not found". The token is added to the lead's ``cookies`` (comma-separated),
so a later ``filterType=cookies`` lookup finds the lead. ``fake.associations`` lists
``(lead id, cookie)`` in the order received.
"""

from __future__ import annotations

import re

_COOKIE = re.compile(r"id:[0-9A-Za-z]{3}-[0-9A-Za-z]{3}-[0-9A-Za-z]{3}&token:(_mch-[^\s,&]+)")


class IdentityMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = [
        (
            "POST",
            r"/rest/v1/leads/(?P<lead_id>[^/]+)/associate\.json",
            "leads.associate",
            "associate",
        ),
    ]

    def _init_identity(self):
        self.associations: list[tuple[int, str]] = []

    def associate(self, request, lead_id):
        if reply := self.guard(request):
            return reply
        cookie = request.query.get("cookie", "")
        match = _COOKIE.fullmatch(cookie)
        if match is None:
            return self.envelope(errors=[("1012", f"Invalid cookie value '{cookie}'")])
        lead = self.leads.get(int(lead_id)) if lead_id.isdigit() else None
        if lead is None:
            return self.envelope(errors=[("1004", "Lead not found")])
        tokens = [token for token in str(lead.get("cookies") or "").split(",") if token]
        if match[1] not in tokens:
            tokens.append(match[1])
        lead["cookies"] = ",".join(tokens)
        self.associations.append((lead["id"], cookie))
        return self.envelope()
