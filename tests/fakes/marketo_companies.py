"""The fake Marketo's Companies API: describe, get by filter and sync.

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_companies()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.

Wire formats follow companies.md (integrations.md §2.6):

- ``GET /rest/v1/companies/describe.json`` → one description: ``idField`` "id",
  ``dedupeFields`` ["externalCompanyId"], ``searchableFields``, ``fields`` (``name``,
  ``displayName``, ``dataType``, ``length``, ``updateable``).
- ``GET /rest/v1/companies.json?filterType=…&filterValues=…[&fields=…&batchSize=…
  &nextPageToken=…]``: ``filterType`` one of the searchable or dedupe fields (else 1003),
  ≤ 300 values; results carry ``seq``; default fields ``id``, the dedupe fields, ``updatedAt``,
  ``createdAt``.
- ``POST /rest/v1/companies.json`` Sync Companies: ``action`` createOnly|updateOnly|
  createOrUpdate (default), ``dedupeBy`` dedupeFields (default)|idField, ≤ 300 records; results
  ``{"seq", "status": created|updated, "id"}`` or ``skipped`` with reasons: 1003 missing key,
  1006 unknown field, 1013 not found (updateOnly), 1017 exists (createOnly), 1036 the same key
  twice in one input.

``companies_api`` models what a subscription allows:

- ``"enabled"`` (default);
- ``"read_only"``: a native CRM sync (Salesforce, Dynamics) is on. companies.md: "Company APIs
  are read-only access for subscriptions which have SFDC Sync or Microsoft Dynamics Sync"
  enabled: describe and queries answer, every record of a sync is skipped with 1018 "CRM
  Enabled" (error-codes.md: "the instance has a native CRM integration enabled");
- ``"denied"``: the API user's role may not use companies: every company route answers 603
  "Access denied" (error-codes.md), so the describe fails as well.

Test API: ``fake.add_company(externalCompanyId=…, company=…, industry=…)``,
``fake.companies`` (id → record), ``fake.companies_api = "read_only"``.
"""

from __future__ import annotations

import time

# (name, display name, data type, length or None, updateable)
COMPANY_FIELDS = [
    ("createdAt", "Created At", "datetime", None, False),
    ("externalCompanyId", "External Company Id", "string", 100, False),
    ("id", "Id", "integer", None, False),
    ("updatedAt", "Updated At", "datetime", None, False),
    ("company", "Company Name", "string", 255, True),
    ("industry", "Industry", "string", 255, True),
    ("annualRevenue", "Annual Revenue", "currency", None, True),
    # On the company only: Marketo's lead describe of this fake does not list it.
    ("numberOfEmployees", "Number of Employees", "integer", None, True),
]
COMPANY_FIELD_NAMES = {name for name, *_ in COMPANY_FIELDS}
DEDUPE_FIELDS = ["externalCompanyId"]
SEARCHABLE_FIELDS = [["externalCompanyId"], ["id"], ["company"]]
_SYSTEM = {"id", "createdAt", "updatedAt"}


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _skipped(seq, code, message):
    return {"seq": seq, "status": "skipped", "reasons": [{"code": code, "message": message}]}


class CompaniesMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = [
        ("GET", r"/rest/v1/companies/describe\.json", "companies.describe", "describe_companies"),
        ("GET", r"/rest/v1/companies\.json", "companies.get", "get_companies"),
        ("POST", r"/rest/v1/companies\.json", "companies.sync", "sync_companies"),
    ]

    def _init_companies(self):
        self.companies: dict[int, dict] = {}
        self.companies_api = "enabled"

    # -- test helpers ----------------------------------------------------------------------

    def add_company(self, **fields):
        with self.lock:
            return self._create_company(fields)

    def _create_company(self, fields):
        company_id = max(self.companies, default=1000) + 1
        stamp = _now()
        self.companies[company_id] = {
            "createdAt": stamp,
            "updatedAt": stamp,
            **{k: v for k, v in fields.items() if k not in _SYSTEM},
            "id": company_id,
        }
        return self.companies[company_id]

    # -- handlers (called under self.lock) -------------------------------------------------

    def _company_guard(self, request):
        if reply := self.guard(request):
            return reply
        if self.companies_api == "denied":
            return self.envelope(errors=[("603", "Access denied")])
        return None

    def describe_companies(self, request):
        if reply := self._company_guard(request):
            return reply
        fields = []
        for name, display, data_type, length, updateable in COMPANY_FIELDS:
            item = {"name": name, "displayName": display, "dataType": data_type}
            if length:
                item["length"] = length
            item["updateable"] = updateable
            fields.append(item)
        return self.envelope(
            [
                {
                    "name": "Company",
                    "description": "Company object",
                    "createdAt": "2015-05-11T17:11:32Z",
                    "updatedAt": "2015-05-11T17:11:32Z",
                    "idField": "id",
                    "dedupeFields": list(DEDUPE_FIELDS),
                    "searchableFields": [list(group) for group in SEARCHABLE_FIELDS],
                    "fields": fields,
                }
            ]
        )

    def get_companies(self, request):
        if reply := self._company_guard(request):
            return reply
        params = request.query
        filter_type = params.get("filterType")
        if not filter_type or "filterValues" not in params:
            return self.envelope(errors=[("1003", "filterType and filterValues are required")])
        allowed = {name for group in SEARCHABLE_FIELDS for name in group} | set(DEDUPE_FIELDS)
        if filter_type not in allowed:
            return self.envelope(errors=[("1003", f"Invalid filterType '{filter_type}'")])
        values = params["filterValues"].split(",")
        if len(values) > 300:
            return self.envelope(errors=[("1003", "Too many filterValues (max 300)")])
        batch_size = min(300, int(params.get("batchSize") or 300))
        start = int(params.get("nextPageToken") or 0)
        hits = [c for c in self.companies.values() if str(c.get(filter_type)) in values]
        if params.get("fields"):
            fields = params["fields"].split(",")
        else:
            fields = ["id", *DEDUPE_FIELDS, "updatedAt", "createdAt"]
        page = [
            {"seq": start + i, **{k: company.get(k) for k in ["id", *fields] if k in company}}
            for i, company in enumerate(hits[start : start + batch_size])
        ]
        extra = {}
        if start + batch_size < len(hits):
            extra = {"nextPageToken": str(start + batch_size), "moreResult": True}
        return self.envelope(page, **extra)

    def sync_companies(self, request):
        if reply := self._company_guard(request):
            return reply
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("input"), list):
            return self.envelope(errors=[("609", None)])
        records = body["input"]
        if len(records) > 300:
            return self.envelope(errors=[("1003", "Batch size exceeds 300")])
        action = body.get("action", "createOrUpdate")
        if action not in ("createOnly", "updateOnly", "createOrUpdate"):
            return self.envelope(errors=[("1003", f"Invalid action '{action}'")])
        key = "id" if body.get("dedupeBy") == "idField" else DEDUPE_FIELDS[0]
        results, seen = [], set()
        for seq, record in enumerate(records):
            value = record.get(key) if isinstance(record, dict) else None
            if value in seen and value not in (None, ""):
                results.append(_skipped(seq, "1036", "Duplicate object found in input"))
                continue
            seen.add(value)
            results.append(self._sync_company(seq, record, action, key))
        return self.envelope(results)

    def _sync_company(self, seq, record, action, key):
        if not isinstance(record, dict):
            return _skipped(seq, "1003", "Invalid data")
        if self.companies_api == "read_only":
            return _skipped(seq, "1018", "CRM Enabled")
        unknown = sorted(set(record) - COMPANY_FIELD_NAMES)
        if unknown:
            return _skipped(seq, "1006", f"Field '{unknown[0]}' not found")
        value = record.get(key)
        if value in (None, ""):
            return _skipped(seq, "1003", f"Value for dedupe field '{key}' not found")
        hits = [c for c in self.companies.values() if c.get(key) == value]
        if not hits:
            if action == "updateOnly" or key == "id":
                return _skipped(seq, "1013", "Record not found")
            company = self._create_company(record)
            return {"seq": seq, "status": "created", "id": company["id"]}
        if action == "createOnly":
            return _skipped(seq, "1017", "Object already exists")
        hits[0].update({k: v for k, v in record.items() if k not in _SYSTEM})
        hits[0]["updatedAt"] = _now()
        return {"seq": seq, "status": "updated", "id": hits[0]["id"]}
