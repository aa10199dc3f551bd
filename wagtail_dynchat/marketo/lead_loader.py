"""Marketo leads into Person and Company rows: CSV records from a byte stream, and upserts.

Reading: :func:`split_records` cuts a byte buffer after its last complete CSV record (a newline
outside quotes), so a file read in byte ranges is parsed without ever being held whole, and the
offset after each record is known: the sync saves it with every committed chunk, and a restart
asks for the file from there. Marketo writes empty values as the literal ``null``.

Writing (:func:`load_leads`, one chunk per call, inside the caller's transaction):

- companies from the leads' company fields (:func:`mapping.company_values`) are upserted by
  their key (new or changed ones only) and linked through ``Person.company_record``;
- people are upserted by ``marketo_id`` in one ``INSERT … ON CONFLICT (marketo_id) DO UPDATE``
  per batch (PostgreSQL and SQLite alike);
- a person captured in chat (no ``marketo_id``) with the lead's e-mail is *linked*: it gets the
  lead's id and Marketo's values;
- an e-mail held by another person (another lead, or a chat person linked to another lead) is
  left out: the lead is stored without e-mail (``Person.email`` is unique, case-insensitively),
  and counted in ``without_email``;
- Marketo's values win, except that an empty value (``null``) never erases a local one: a
  value a visitor gave in chat survives until Marketo has one of its own.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from ..models import Company, Person
from . import mapping

DELIMITERS = {"CSV": ",", "TSV": "\t", "SSV": " "}
COLUMNS = tuple(mapping.LEAD_FIELDS)  # person columns Marketo fills
TEXT_COLUMNS = tuple(name for name in COLUMNS if name != "email")
UPDATE_FIELDS = [*COLUMNS, "attributes", "company_record", "marketo_synced_at", "updated_at"]
#: The values of a person row, in order, as load_leads makes them.
ROW_FIELDS = ("marketo_id", "email", *TEXT_COLUMNS, "attributes", "company_record")
ORM_FIELDS = (*ROW_FIELDS[:-1], "company_record_id")
INSERT_BATCH = 1000


@dataclass
class LoadStats:
    rows: int = 0
    linked: int = 0
    without_email: int = 0
    skipped: int = 0
    companies: int = 0

    def add(self, other):
        for name in ("rows", "linked", "without_email", "skipped", "companies"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


# -- reading ---------------------------------------------------------------------------------


def split_records(data, final=False):
    """The complete CSV records at the start of ``data`` (bytes, each with its newline) and
    the number of bytes they take; a record ends at a newline outside double quotes. With
    ``final`` the rest of ``data`` is a last record even without a newline."""
    if b'"' not in data:
        cut = data.rfind(b"\n") + 1
        records = [line + b"\n" for line in data[: cut - 1].split(b"\n")] if cut else []
        if final and cut < len(data):
            records.append(data[cut:])
            cut = len(data)
        return records, cut
    records = []
    start = position = quotes = 0
    while (newline := data.find(b"\n", position)) >= 0:
        quotes += data.count(b'"', position, newline)
        position = newline + 1
        if quotes % 2 == 0:
            records.append(data[start:position])
            start, quotes = position, 0
    if final and start < len(data):
        records.append(data[start:])
        start = len(data)
    return records, start


def parse_header(record, format="CSV"):
    """Column names of a header record."""
    return next(csv.reader(io.StringIO(record.decode("utf-8")), delimiter=DELIMITERS[format]))


def parse_records(records, columns, format="CSV"):
    """Lead dicts keyed by ``columns`` from CSV ``records`` (bytes)."""
    text = b"".join(records).decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[format])
    return [dict(zip(columns, row, strict=False)) for row in reader if row]


# -- writing ---------------------------------------------------------------------------------


def _lead_id(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _limits():
    return {name: Person._meta.get_field(name).max_length for name in COLUMNS}


def _upsert_companies(companies, now):
    """Companies ``{key: (name, external_id, attributes)}``; returns ``{key: pk}``."""
    if not companies:
        return {}
    fields = ("key", "pk", "name", "external_id", "attributes")
    if _postgres():
        rows = _select_any(Company, fields, "key", list(companies))
    else:
        rows = Company.objects.filter(key__in=list(companies)).values(*fields)
    existing = {row["key"]: row for row in rows}
    changed = []
    for key, (name, external_id, attributes) in companies.items():
        row = existing.get(key)
        merged = {**(row["attributes"] if row else {}), **attributes}
        if row and (row["name"], row["external_id"], row["attributes"]) == (
            name,
            external_id,
            merged,
        ):
            continue
        changed.append((key, name, external_id, merged))
    ids = {key: row["pk"] for key, row in existing.items()}
    if changed and _postgres():
        ids.update(_pg_upsert_companies(changed, now))
    elif changed:
        changed.sort()
        Company.objects.bulk_create(
            [
                Company(key=key, name=name, external_id=ext, attributes=attrs, updated_at=now)
                for key, name, ext, attrs in changed
            ],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["name", "external_id", "attributes", "updated_at"],
            batch_size=INSERT_BATCH,
        )
    missing = [key for key in companies if key not in ids]
    if missing:
        ids.update(Company.objects.filter(key__in=missing).values_list("key", "pk"))
    return ids


def _existing_people(ids, emails):
    fields = ("pk", "marketo_id", "email", *TEXT_COLUMNS, "attributes", "company_record_id")
    if _postgres():
        by_id = {row["marketo_id"]: row for row in _select_any(Person, fields, "marketo_id", ids)}
        rows = _select_any(Person, fields, "email", list(emails), lower=True) if emails else []
        return by_id, {row["email"].lower(): row for row in rows}
    by_id = {
        row["marketo_id"]: row for row in Person.objects.filter(marketo_id__in=ids).values(*fields)
    }
    by_email = {}
    if emails:
        # lower(email) is what the unique index holds: the lookup uses it.
        rows = (
            Person.objects.annotate(email_key=Lower("email"))
            .filter(email_key__in=emails)
            .values("email_key", *fields)
        )
        by_email = {row["email_key"]: row for row in rows}
    return by_id, by_email


def load_leads(leads, now=None):
    """Upsert Marketo ``leads`` (dicts keyed by REST names) into Person and Company rows.

    Call inside a transaction; returns :class:`LoadStats`. Leads without a numeric ``id`` are
    skipped; a lead that appears twice in ``leads`` counts once, its last version winning.
    """
    now = now or timezone.now()
    stats = LoadStats()
    lead_fields = mapping.mapped_fields("lead")
    company_fields = mapping.mapped_fields("company")
    limits = _limits()

    parsed = {}
    for lead in leads:
        lead_id = _lead_id(lead.get("id"))
        if lead_id is None:
            stats.skipped += 1
            continue
        columns, attributes = mapping.person_values(lead, lead_fields)
        company = mapping.company_values(lead, company_fields)
        parsed[lead_id] = (columns, attributes, company)
    if not parsed:
        return stats

    companies = {}
    for _columns, _attributes, company in parsed.values():
        if company is not None:
            key, name, external_id, attributes = company
            companies[key] = (name, external_id, attributes)
    company_ids = _upsert_companies(companies, now)
    stats.companies = len(companies)

    emails = {columns["email"] for columns, *_ in parsed.values() if columns.get("email")}
    by_id, by_email = _existing_people(list(parsed), emails)

    links, people, taken, linked_pks = [], [], set(), set()
    for lead_id, (columns, attributes, company) in parsed.items():
        row = by_id.get(lead_id)
        current = row["email"] if row else None
        email = columns.get("email") or current
        if email and len(email) > limits["email"]:
            email = current
        if email:
            owner = by_email.get(email)
            if (
                row is None
                and owner is not None
                and owner["marketo_id"] is None
                and owner["pk"] not in linked_pks
            ):
                row = owner
                links.append(Person(pk=owner["pk"], marketo_id=lead_id))
                linked_pks.add(owner["pk"])
                stats.linked += 1
            elif owner is not None and (row is None or owner["pk"] != row["pk"]):
                email = current if current != email else None
            if email in taken:
                email = None
        if email:
            taken.add(email)
        elif columns.get("email"):
            stats.without_email += 1

        values = {}
        for name in TEXT_COLUMNS:
            # What Marketo leaves empty keeps the local value (captured in chat, say).
            value = columns.get(name) or (row[name] if row else "")
            values[name] = (value or "")[: limits[name]]
        kept = (row or {}).get("attributes") or {}
        if company is not None:
            company_id = company_ids.get(company[0])
        else:
            company_id = row["company_record_id"] if row else None
        people.append(
            [
                lead_id,
                email,
                *(values[name] for name in TEXT_COLUMNS),
                {**kept, **attributes},
                company_id,
            ]
        )
    people.sort(key=lambda person: person[0])
    try:
        with transaction.atomic():
            _write(links, people, now)
    except IntegrityError:
        # An e-mail changed hands inside the chunk, or a visitor captured one meanwhile: one
        # person at a time, without e-mail when it clashes.
        stats.without_email += _write_one_by_one(links, people, now)
    stats.rows = len(people)
    return stats


def _write(links, people, now):
    """Upsert ``people``: rows of ``ROW_FIELDS`` values."""
    if links:
        Person.objects.bulk_update(links, ["marketo_id"])
    if _postgres():
        _pg_upsert_people(people, now)
        return
    objects = [
        Person(**dict(zip(ORM_FIELDS, row, strict=True)), marketo_synced_at=now, updated_at=now)
        for row in people
    ]
    Person.objects.bulk_create(
        objects,
        update_conflicts=True,
        unique_fields=["marketo_id"],
        update_fields=UPDATE_FIELDS,
        batch_size=INSERT_BATCH,
    )


def _write_one_by_one(links, people, now):
    dropped = 0
    for link in links:
        try:
            with transaction.atomic():
                Person.objects.filter(pk=link.pk, marketo_id__isnull=True).update(
                    marketo_id=link.marketo_id
                )
        except IntegrityError:
            pass
    for person in people:
        try:
            with transaction.atomic():
                _write([], [person], now)
        except IntegrityError:
            person[1] = None  # the e-mail
            dropped += 1
            with transaction.atomic():
                _write([], [person], now)
    return dropped


# -- PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT -----------------
# Django's bulk_create spends most of a chunk adapting values one by one; COPY does not.


def _postgres():
    return connection.vendor == "postgresql"


def _qn(name):
    return connection.ops.quote_name(name)


def _column(model, name):
    return model._meta.pk.column if name == "pk" else model._meta.get_field(name).column


def _select_any(model, fields, where, values, lower=False):
    """Rows of ``model`` (dicts of ``fields``) whose ``where`` field is one of ``values``,
    with one array parameter (``= ANY(%s)``) instead of thousands of placeholders."""
    column = _qn(_column(model, where))
    if lower:
        column = f"lower({column})"  # what the unique index on lower(email) holds
    sql = "SELECT {} FROM {} WHERE {} = ANY(%s)".format(
        ", ".join(_qn(_column(model, name)) for name in fields),
        _qn(model._meta.db_table),
        column,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(values)])
        rows = cursor.fetchall()
    result = []
    for row in rows:
        item = dict(zip(fields, row, strict=True))
        if isinstance(item.get("attributes"), str):
            item["attributes"] = json.loads(item["attributes"])
        result.append(item)
    return result


def _copy_upsert(cursor, model, temp, fields, rows, conflict, extra, returning=""):
    """COPY ``rows`` (values of ``fields``) into the temporary table ``temp``, then insert
    them into ``model``'s table, updating the row that has the same ``conflict`` field."""
    columns = [_column(model, name) for name in fields]
    types = {
        "attributes": "jsonb",
        "marketo_id": "bigint",
        "company_record": "bigint",
    }
    definition = ", ".join(
        f"{_qn(c)} {types.get(n, 'text')}" for n, c in zip(fields, columns, strict=True)
    )
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ({definition}) ON COMMIT DELETE ROWS")
    cursor.execute(f"TRUNCATE {temp}")
    quoted = ", ".join(_qn(column) for column in columns)
    with cursor.cursor.copy(f"COPY {temp} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    extra_columns = [_column(model, name) for name in extra]
    target = ", ".join(_qn(column) for column in [*columns, *extra_columns])
    updates = [c for n, c in zip(fields, columns, strict=True) if n != conflict]
    updates += [_column(model, name) for name in extra if name != "created_at"]
    sql = (
        f"INSERT INTO {_qn(model._meta.db_table)} ({target}) "
        f"SELECT {quoted}, {', '.join(['%s'] * len(extra))} FROM {temp} "
        f"ORDER BY {_qn(_column(model, conflict))} "
        f"ON CONFLICT ({_qn(_column(model, conflict))}) DO UPDATE SET "
        + ", ".join(f"{_qn(c)} = EXCLUDED.{_qn(c)}" for c in updates)
        + (f" RETURNING {returning}" if returning else "")
    )
    cursor.execute(sql, list(extra.values()))
    return cursor.fetchall() if returning else None


def _pg_upsert_people(people, now):
    rows = ([*row[:-2], json.dumps(row[-2]), row[-1]] for row in people)
    extra = {"marketo_synced_at": now, "created_at": now, "updated_at": now}
    with connection.cursor() as cursor:
        _copy_upsert(cursor, Person, "dynchat_person_load", ROW_FIELDS, rows, "marketo_id", extra)


def _pg_upsert_companies(companies, now):
    """Upsert ``(key, name, external_id, attributes)`` companies; returns ``{key: pk}``."""
    fields = ("key", "name", "external_id", "attributes")
    rows = ((key, name, ext, json.dumps(attrs)) for key, name, ext, attrs in sorted(companies))
    extra = {"created_at": now, "updated_at": now}
    returning = f"{_qn('key')}, {_qn(Company._meta.pk.column)}"
    with connection.cursor() as cursor:
        return dict(
            _copy_upsert(
                cursor, Company, "dynchat_company_load", fields, rows, "key", extra, returning
            )
        )
