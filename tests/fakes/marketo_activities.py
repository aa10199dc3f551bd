"""The fake Marketo's activities: activity types, custom activity types (create, attributes,
approve), adding custom activities, and program members.

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_activities()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``. (Paging tokens and lead changes live in ``marketo_bulk.py``.)

Wire formats follow integrations.md §2.7/§2.8 (activities.md, program-members.md):

- ``GET /rest/v1/activities/types.json``: a few standard types plus every approved custom type
  (``primaryAttribute``/``attributes`` with ``name`` and ``dataType``).
- Custom activity types have a draft and an approved version. ``GET …/external/types.json``
  lists them (``status``: ``draft``, ``approved`` or ``approved with draft``); ``POST
  …/external/type.json`` creates a draft (required ``apiName, name, triggerName, filterName,
  primaryAttribute``; more than :data:`MAX_TYPES` types → 1027); ``POST
  …/external/type/{apiName}/attributes/create.json`` adds secondary attributes to the draft
  (more than :data:`MAX_ATTRIBUTES` → 1028); ``POST …/external/type/{apiName}/approve.json``
  makes the draft live (no draft → 709); ``GET …/external/type/{apiName}/describe.json``
  describes the approved version, ``?draft=true`` the draft (unknown type → 610).
- ``POST /rest/v1/activities/external.json``: ≤ 300 records; each is ``added`` (with ``id`` and
  ``marketoGUID``) or ``skipped`` with ``errors`` (not ``reasons``, as Marketo does): 1003 for a
  missing required member or a type that is not an approved custom type, 1004 for an unknown
  lead, 1006 for an attribute the type does not have, 1049 for attributes over 65,536 bytes.
- ``POST /rest/v1/programs/{programId}/members/status.json`` (Sync Program Member Status):
  ``statusName`` must be one of the program's statuses (1003 otherwise); an unknown program →
  1013. Per record (with ``seq``): ``created`` (new member), ``updated`` (moved forward),
  ``skipped`` 1037 when the member is already in or past the status, 1004 for an unknown lead.

Test API::

    fake.activity_types["dynchatEngagedDialogue"]     # the stored type (both versions)
    fake.activities                                    # added activities, in order
    fake.add_program(1001, statuses=["Not in Program", "Engaged", "Completed"])
    fake.program_members[1001]                         # {leadId: statusName}

Routes: ``activities.types``, ``activities.external.types``, ``activities.external.type.create``,
``activities.external.type.describe``, ``activities.external.type.attributes``,
``activities.external.type.approve``, ``activities.external.add``, ``programs.members.status``.
"""

from __future__ import annotations

import copy
import json
import time

MAX_TYPES = 10
MAX_ATTRIBUTES = 20
MAX_ACTIVITIES = 300
MAX_ATTRIBUTES_BYTES = 65_536
FIRST_CUSTOM_ID = 100_001
DATA_TYPES = {
    "string",
    "boolean",
    "integer",
    "float",
    "link",
    "email",
    "currency",
    "date",
    "datetime",
    "phone",
    "text",
}
STANDARD_TYPES = [
    {
        "id": 1,
        "name": "Visit Webpage",
        "description": "User visits a web page",
        "primaryAttribute": {"name": "Webpage ID", "dataType": "integer"},
        "attributes": [{"name": "Client IP Address", "dataType": "string"}],
    },
    {
        "id": 2,
        "name": "Fill Out Form",
        "description": "User fills out and submits form on web page",
        "primaryAttribute": {"name": "Webform ID", "dataType": "integer"},
        "attributes": [{"name": "Form Fields", "dataType": "text"}],
    },
    {
        "id": 12,
        "name": "New Lead",
        "description": "New lead was created",
        "primaryAttribute": {"name": "Lead ID", "dataType": "integer"},
        "attributes": [{"name": "Source Type", "dataType": "string"}],
    },
]
_TYPE_FIELDS = ("apiName", "name", "description", "triggerName", "filterName")
_NAME = r"(?P<api_name>[^/]+)"


def _stamp():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ActivitiesMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = [
        ("GET", r"/rest/v1/activities/types\.json", "activities.types", "get_activity_types"),
        (
            "GET",
            r"/rest/v1/activities/external/types\.json",
            "activities.external.types",
            "get_custom_types",
        ),
        (
            "POST",
            r"/rest/v1/activities/external/type\.json",
            "activities.external.type.create",
            "create_custom_type",
        ),
        (
            "GET",
            rf"/rest/v1/activities/external/type/{_NAME}/describe\.json",
            "activities.external.type.describe",
            "describe_custom_type",
        ),
        (
            "POST",
            rf"/rest/v1/activities/external/type/{_NAME}/attributes/create\.json",
            "activities.external.type.attributes",
            "create_custom_attributes",
        ),
        (
            "POST",
            rf"/rest/v1/activities/external/type/{_NAME}/approve\.json",
            "activities.external.type.approve",
            "approve_custom_type",
        ),
        (
            "POST",
            r"/rest/v1/activities/external\.json",
            "activities.external.add",
            "add_custom_activities",
        ),
        (
            "POST",
            r"/rest/v1/programs/(?P<program_id>\d+)/members/status\.json",
            "programs.members.status",
            "sync_program_member_status",
        ),
    ]

    def _init_activities(self):
        #: apiName → {"id", "createdAt", "updatedAt", "draft": version | None,
        #: "approved": version | None}; a version holds the type's fields, primaryAttribute
        #: and attributes.
        self.activity_types: dict[str, dict] = {}
        self.activities: list[dict] = []
        self.programs: dict[int, list[str]] = {}
        self.program_members: dict[int, dict[int, str]] = {}

    # -- test helpers ----------------------------------------------------------------------

    def add_program(self, program_id, *, statuses):
        """A program whose channel has ``statuses``, in progression order."""
        with self.lock:
            self.programs[int(program_id)] = list(statuses)
            self.program_members.setdefault(int(program_id), {})

    def activities_of(self, api_name):
        """Added activities of the custom type ``api_name``."""
        with self.lock:
            type_id = self.activity_types[api_name]["id"]
            return [a for a in self.activities if a["activityTypeId"] == type_id]

    # -- activity types --------------------------------------------------------------------

    @staticmethod
    def _status(stored):
        if stored["approved"] is None:
            return "draft"
        return "approved with draft" if stored["draft"] is not None else "approved"

    def _type_view(self, stored, version, *, full=True):
        view = {
            "id": stored["id"],
            **{key: version[key] for key in _TYPE_FIELDS if key in version},
            "createdAt": stored["createdAt"],
            "updatedAt": stored["updatedAt"],
            "status": self._status(stored),
        }
        if full:
            view["primaryAttribute"] = copy.deepcopy(version["primaryAttribute"])
            if version["attributes"]:
                view["attributes"] = copy.deepcopy(version["attributes"])
        return view

    def get_activity_types(self, request):
        if reply := self.guard(request):
            return reply
        result = copy.deepcopy(STANDARD_TYPES)
        for stored in self.activity_types.values():
            live = stored["approved"]
            if live is None:
                continue
            result.append(
                {
                    "id": stored["id"],
                    "name": live["name"],
                    "description": live.get("description", ""),
                    "primaryAttribute": {
                        "name": live["primaryAttribute"]["name"],
                        "dataType": live["primaryAttribute"]["dataType"],
                    },
                    "attributes": [
                        {"name": a["name"], "dataType": a["dataType"]} for a in live["attributes"]
                    ],
                }
            )
        return self.envelope(result)

    def get_custom_types(self, request):
        if reply := self.guard(request):
            return reply
        result = []
        for stored in self.activity_types.values():
            version = stored["approved"] or stored["draft"]
            result.append(self._type_view(stored, version, full=False))
        return self.envelope(result)

    def create_custom_type(self, request):
        if reply := self.guard(request):
            return reply
        body = request.json
        if not isinstance(body, dict):
            return self.envelope(errors=[("609", None)])
        for key in ("apiName", "name", "triggerName", "filterName", "primaryAttribute"):
            if not body.get(key):
                return self.envelope(errors=[("1003", f"{key} is required")])
        primary = body["primaryAttribute"]
        if not isinstance(primary, dict) or not primary.get("apiName") or not primary.get("name"):
            return self.envelope(errors=[("1003", "primaryAttribute needs apiName and name")])
        if body["apiName"] in self.activity_types:
            return self.envelope(errors=[("1003", "Activity type already exists")])
        if len(self.activity_types) >= MAX_TYPES:
            return self.envelope(
                errors=[("1027", f"Max custom activity type limit of {MAX_TYPES} reached")]
            )
        for stored in self.activity_types.values():
            version = stored["draft"] or stored["approved"]
            for key in ("name", "triggerName", "filterName"):
                if version[key] == body[key]:
                    return self.envelope(errors=[("1003", f"Duplicate {key} '{body[key]}'")])
        version = {key: body[key] for key in _TYPE_FIELDS if key in body}
        version["primaryAttribute"] = {
            "apiName": primary["apiName"],
            "name": primary["name"],
            "description": primary.get("description", ""),
            "dataType": "string",
        }
        version["attributes"] = []
        stamp = _stamp()
        stored = {
            "id": FIRST_CUSTOM_ID + len(self.activity_types),
            "createdAt": stamp,
            "updatedAt": stamp,
            "draft": version,
            "approved": None,
        }
        self.activity_types[body["apiName"]] = stored
        return self.envelope([self._type_view(stored, version)])

    def describe_custom_type(self, request, api_name):
        if reply := self.guard(request):
            return reply
        stored = self.activity_types.get(api_name)
        if stored is None:
            return self.envelope(errors=[("610", None)])
        draft = request.query.get("draft") == "true"
        version = stored["draft"] if draft else stored["approved"]
        if version is None:
            which = "draft" if draft else "approved"
            return self.envelope(errors=[("702", f"No {which} version of '{api_name}'")])
        return self.envelope([self._type_view(stored, version)])

    def create_custom_attributes(self, request, api_name):
        if reply := self.guard(request):
            return reply
        stored = self.activity_types.get(api_name)
        if stored is None:
            return self.envelope(errors=[("610", None)])
        body = request.json
        attributes = body.get("attributes") if isinstance(body, dict) else None
        if not isinstance(attributes, list) or not attributes:
            return self.envelope(errors=[("1003", "attributes is required")])
        draft = copy.deepcopy(stored["draft"] or stored["approved"])
        known = {a["apiName"] for a in draft["attributes"]}
        for attribute in attributes:
            if not isinstance(attribute, dict):
                return self.envelope(errors=[("1003", "Invalid attribute")])
            for key in ("apiName", "name", "dataType"):
                if not attribute.get(key):
                    return self.envelope(errors=[("1003", f"Attribute {key} is required")])
            if attribute["dataType"] not in DATA_TYPES:
                return self.envelope(
                    errors=[("1003", f"Invalid dataType '{attribute['dataType']}'")]
                )
            if attribute["apiName"] in known:
                return self.envelope(
                    errors=[("1003", f"Attribute '{attribute['apiName']}' already exists")]
                )
            known.add(attribute["apiName"])
            draft["attributes"].append(
                {
                    "apiName": attribute["apiName"],
                    "name": attribute["name"],
                    "description": attribute.get("description", ""),
                    "dataType": attribute["dataType"],
                }
            )
        if len(draft["attributes"]) > MAX_ATTRIBUTES:
            return self.envelope(
                errors=[("1028", f"Max attribute limit of {MAX_ATTRIBUTES} reached")]
            )
        stored["draft"] = draft
        stored["updatedAt"] = _stamp()
        return self.envelope([self._type_view(stored, draft)])

    def approve_custom_type(self, request, api_name):
        if reply := self.guard(request):
            return reply
        stored = self.activity_types.get(api_name)
        if stored is None:
            return self.envelope(errors=[("610", None)])
        if stored["draft"] is None:
            return self.envelope(errors=[("709", "No draft version to approve")])
        stored["approved"], stored["draft"] = stored["draft"], None
        stored["updatedAt"] = _stamp()
        return self.envelope([self._type_view(stored, stored["approved"])])

    # -- adding activities -----------------------------------------------------------------

    def add_custom_activities(self, request):
        if reply := self.guard(request):
            return reply
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("input"), list):
            return self.envelope(errors=[("609", None)])
        records = body["input"]
        if len(records) > MAX_ACTIVITIES:
            return self.envelope(errors=[("1003", f"Batch size exceeds {MAX_ACTIVITIES}")])
        # Type id → the attribute API names and names of its approved version.
        by_id = {
            stored["id"]: (
                {a["apiName"] for a in stored["approved"]["attributes"]},
                {a["name"] for a in stored["approved"]["attributes"]},
            )
            for stored in self.activity_types.values()
            if stored["approved"] is not None
        }
        return self.envelope([self._add_one(record, by_id) for record in records])

    def _add_one(self, record, by_id):
        def skipped(code, message):
            return {"status": "skipped", "errors": [{"code": code, "message": message}]}

        if not isinstance(record, dict):
            return skipped("1003", "Invalid activity")
        for key in ("leadId", "activityDate", "activityTypeId", "primaryAttributeValue"):
            if record.get(key) in (None, ""):
                return skipped("1003", f"{key} is required")
        if not isinstance(record.get("attributes"), list):
            return skipped("1003", "attributes is required")
        known = by_id.get(record["activityTypeId"])
        if known is None:
            return skipped("1003", f"Invalid activityTypeId {record['activityTypeId']}")
        if record["leadId"] not in self.leads:
            return skipped("1004", "Lead not found")
        size = len(json.dumps(record["attributes"], ensure_ascii=False).encode())
        if size > MAX_ATTRIBUTES_BYTES:
            return skipped("1049", f"Attributes exceed {MAX_ATTRIBUTES_BYTES} bytes")
        names, labels = known
        for attribute in record["attributes"]:
            name = attribute.get("apiName") if isinstance(attribute, dict) else None
            label = attribute.get("name") if isinstance(attribute, dict) else None
            if name not in names and label not in labels:
                return skipped("1006", f"Field '{name or label}' not found")
        activity_id = len(self.activities) + 1
        # The record was parsed from this request alone: stored as is, no copy needed.
        self.activities.append({**record, "id": activity_id})
        return {"id": activity_id, "marketoGUID": str(activity_id), "status": "added"}

    # -- program members -------------------------------------------------------------------

    def sync_program_member_status(self, request, program_id):
        if reply := self.guard(request):
            return reply
        program_id = int(program_id)
        statuses = self.programs.get(program_id)
        if statuses is None:
            return self.envelope(errors=[("1013", "Program not found")])
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("input"), list):
            return self.envelope(errors=[("609", None)])
        status = body.get("statusName")
        if status not in statuses:
            return self.envelope(errors=[("1003", f"Invalid status name '{status}'")])
        records = body["input"]
        if len(records) > 300:
            return self.envelope(errors=[("1003", "Batch size exceeds 300")])
        members = self.program_members[program_id]
        result = []
        for seq, record in enumerate(records):
            lead_id = record.get("leadId") if isinstance(record, dict) else None
            if lead_id not in self.leads:
                result.append(
                    {
                        "seq": seq,
                        "status": "skipped",
                        "reasons": [{"code": "1004", "message": "Lead not found"}],
                    }
                )
                continue
            current = members.get(lead_id)
            if current is not None and statuses.index(current) >= statuses.index(status):
                message = "Lead skipped because it is already in or past this status"
                result.append(
                    {
                        "seq": seq,
                        "status": "skipped",
                        "leadId": lead_id,
                        "reasons": [{"code": "1037", "message": message}],
                    }
                )
                continue
            members[lead_id] = status
            result.append(
                {
                    "seq": seq,
                    "status": "created" if current is None else "updated",
                    "leadId": lead_id,
                }
            )
        return self.envelope(result)
