"""The registry of `signals-batch serve` (SQLite), and `definitions: registry` for projects.

The server keeps what the `snowplow-signals` SDK publishes: attribute keys, attribute groups
(one row per version) and services, each as the JSON the client sent (the API's *input*
shape), plus its published flag. Reads render the API's *output* shape on top (`full_name`,
`feast_name`, the key's `blobl_path`, ...), which is what the SDK validates.

Writes are validated before they are stored: batch and external batch groups with the same
models and messages as definition files (so an invalid group is refused with the attribute
and the reason), stream groups only for their shape (this server does not compute them).

`load_registry_definitions` is the other direction: a project whose `definitions` setting is
`registry` reads its batch and external batch groups from a Signals API (this server or a
hosted one) through `SignalsApiClient`.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from signals_batch.definitions.loader import (
    Definitions,
    Problem,
    _problems_from,
    load_objects,
    parse_groups,
)
from signals_batch.definitions.models import KEY_ALIASES, NAME_PATTERN
from signals_batch.definitions.models import AttributeKey as KeyModel
from signals_batch.errors import InvalidInput

if TYPE_CHECKING:
    from signals_batch.config import SignalsApiSettings

REGISTRY_FILE = "registry.sqlite"
BODY_SOURCE = "request body"

_SCHEMA = """
create table if not exists attribute_keys (
    name text primary key,
    body text not null,
    is_published integer not null default 0
);
create table if not exists attribute_groups (
    name text not null,
    version integer not null,
    body text not null,
    is_published integer not null default 0,
    primary key (name, version)
);
create table if not exists services (
    name text primary key,
    body text not null,
    is_published integer not null default 0
);
"""

# The fields of the API's input shapes (what we store and what `definitions: registry` reads).
GROUP_INPUT_FIELDS = (
    "name", "version", "attribute_key", "ttl", "batch_source", "online", "offline",
    "description", "owner", "fields", "attributes", "is_published",
    "backfill_since_tstamp", "refresh_rate",
)  # fmt: skip
KEY_INPUT_FIELDS = (
    "name", "description", "key", "external_column", "property", "owner", "ttl",
    "is_published",
)  # fmt: skip


class RegistryError(Exception):
    """A registry request that cannot be served: the HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []


def not_found(message: str) -> RegistryError:
    return RegistryError(404, message)


def invalid(message: str, problems: list[Problem] | None = None) -> RegistryError:
    # Never 400: the SDK reads a 400 on create as "exists already" and retries with a PUT.
    return RegistryError(422, message, problems)


# --------------------------------------------------------------------------- validation

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=128)]


class _GroupLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    version: Annotated[int, Field(gt=0)] = 1


class _Service(BaseModel):
    """The API's service input."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    description: str | None = None
    attribute_groups: Annotated[list[_GroupLink], Field(min_length=1, max_length=100)]
    owner: Annotated[str, StringConstraints(max_length=255)] | None = None
    is_published: bool | None = None


class _StreamGroupShape(BaseModel):
    """What is checked of a stream group (offline: false): this server never computes it."""

    model_config = ConfigDict(extra="allow")
    name: Name
    version: Annotated[int, Field(gt=0)] = 1
    attribute_key: dict[str, Any] | str
    owner: str
    attributes: Annotated[list[dict[str, Any]], Field(min_length=1)]


def _pydantic_problems(error: ValidationError, what: str, raw: Any) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        name = raw.get("name") if isinstance(raw, dict) else None
        problems.append(
            Problem(
                BODY_SOURCE,
                None,
                None,
                f"{what} {name!r}: {loc}: {message}"
                if name and loc
                else f"{what}: {loc or 'body'}: {message}",
            )
        )
    return problems


def _raise_problems(what: str, problems: list[Problem]) -> None:
    lines = [str(p) for p in problems]
    noun = "problem" if len(problems) == 1 else "problems"
    raise invalid(f"invalid {what} ({len(problems)} {noun}): " + "; ".join(lines), problems)


# pydantic (the SDK's models and ours) writes a timedelta of 365 days or more with years:
# `timedelta(days=365)` -> "P1Y", 400 days -> "P1Y35D"; it reads them back as 365 days each.
_PYDANTIC_YEARS = re.compile(
    r"^(?P<sign>-?)P(?P<years>[0-9]+)Y(?:(?P<days>[0-9]+)D)?(?P<time>T.*)?$"
)


def _days_not_years(value: Any) -> Any:
    """A duration as pydantic wrote it, with its years as the 365 days pydantic means."""
    match = _PYDANTIC_YEARS.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    days = int(match["years"]) * 365 + int(match["days"] or 0)
    return f"{match['sign']}P{days}D{match['time'] or ''}"


def normalize_durations(body: dict[str, Any]) -> dict[str, Any]:
    """Durations sent by an API client in pydantic's notation, in days (months stay invalid:
    pydantic never writes them, so one was written by hand and means a calendar month)."""
    body = dict(body)
    if "ttl" in body:
        body["ttl"] = _days_not_years(body["ttl"])
    if isinstance(body.get("attribute_key"), dict) and "ttl" in body["attribute_key"]:
        body["attribute_key"] = {
            **body["attribute_key"],
            "ttl": _days_not_years(body["attribute_key"]["ttl"]),
        }
    if isinstance(body.get("attributes"), list):
        body["attributes"] = [
            {**a, **{k: _days_not_years(a[k]) for k in ("period", "ttl") if k in a}}
            if isinstance(a, dict) else a
            for a in body["attributes"]
        ]  # fmt: skip
    return body


def validate_group(body: Any) -> dict[str, Any]:
    """The group JSON to store (version defaulted, durations in days), or a 422 naming the
    group, the attribute and the reason."""
    if not isinstance(body, dict):
        raise invalid("invalid attribute group: the body must be a JSON object")
    body = normalize_durations(body)
    body.setdefault("version", 1)
    if body.get("offline") is False and "type" not in body:
        try:
            _StreamGroupShape.model_validate(body)
        except ValidationError as error:
            _raise_problems("attribute group", _pydantic_problems(error, "group", body))
        return body
    _groups, problems = parse_groups([body], BODY_SOURCE)
    if problems:
        _raise_problems("attribute group", problems)
    return body


def validate_key(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("invalid attribute key: the body must be a JSON object")
    body = normalize_durations({"attribute_key": body})["attribute_key"]
    try:
        model = KeyModel.model_validate(body)
    except ValidationError as error:
        _raise_problems("attribute key", _problems_from(error, BODY_SOURCE, {}))
    body = dict(body)
    if not body.get("name"):
        body["name"] = model.name
    return body


def validate_service(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("invalid service: the body must be a JSON object")
    try:
        _Service.model_validate(body)
    except ValidationError as error:
        _raise_problems("service", _pydantic_problems(error, "service", body))
    body = dict(body)
    body["attribute_groups"] = [
        {"name": link["name"], "version": link.get("version") or 1}
        for link in body["attribute_groups"]
    ]
    return body


# --------------------------------------------------------------------------- output shapes


def _key_dict(key: Any) -> dict[str, Any]:
    return {"name": key} if isinstance(key, str) else dict(key or {})


def key_names(key: Any) -> set[str]:
    """Every name a request may use for this key (its name, its `key`, the alias it stands for)."""
    key = _key_dict(key)
    names = {n for n in (key.get("name"), key.get("key"), key.get("external_column")) if n}
    return names | {KEY_ALIASES[n] for n in names if n in KEY_ALIASES}


def blobl_path(key: dict[str, Any]) -> str | None:
    """Where the stream engine would read the key in an event (informational here)."""
    prop = key.get("property")
    if isinstance(prop, dict):
        if prop.get("type") == "atomic":
            return f"this.{prop.get('name')}"
        if prop.get("type") in ("entity", "event") and prop.get("vendor"):
            kind = "contexts" if prop["type"] == "entity" else "unstruct_event"
            column = f"{kind}_{prop['vendor']}_{prop.get('name')}_{prop.get('major_version')}"
            column = re.sub(r"[.\-]", "_", column).lower()
            index = f".index({prop.get('index') or 0})" if prop["type"] == "entity" else ""
            return f"this.{column}{index}.{prop.get('path')}"
        return None
    if key.get("external_column"):
        return None
    name = key.get("key") or key.get("name")
    return f"this.{KEY_ALIASES.get(name, name)}" if name else None


def key_output(body: dict[str, Any], is_published: bool) -> dict[str, Any]:
    out = dict(body)
    out["is_published"] = is_published
    out["blobl_path"] = blobl_path(body)
    return out


def group_output(
    body: dict[str, Any], is_published: bool, registered_key: dict[str, Any] | None
) -> dict[str, Any]:
    """The API's AttributeGroupResponse / AttributeGroupOutput for a stored group."""
    out = dict(body)
    version = int(out.get("version") or 1)
    ident = f"{out['name']}_v{version}"
    key = _key_dict(out.get("attribute_key"))
    for name, value in (registered_key or {}).items():  # the registered key fills the gaps
        if name in KEY_INPUT_FIELDS and key.get(name) is None:
            key[name] = value
    if registered_key is not None:
        key["is_published"] = bool(registered_key.get("is_published"))
    key.setdefault("is_published", False)
    key["blobl_path"] = blobl_path(key)
    offline = out.get("offline")
    if offline is None:
        offline = out.get("type") != "stream"
    out.update(
        version=version,
        attribute_key=key,
        online=out.get("online", True),
        offline=offline,
        is_published=is_published,
        full_name=ident,
        feast_name=ident,
        stream_source_name=None if offline else f"{ident}_stream",
        attribute_key_or_name=KEY_ALIASES.get(
            key.get("key") or key["name"], key.get("key") or key["name"]
        ),
        attribute_group_or_attribute_key_ttl=out.get("ttl") or key.get("ttl"),
    )
    return out


def service_output(body: dict[str, Any], is_published: bool) -> dict[str, Any]:
    return {**body, "is_published": is_published}


def group_attribute_names(body: dict[str, Any]) -> list[str]:
    items = body.get("attributes") or body.get("fields") or []
    return [item["name"] for item in items if isinstance(item, dict) and "name" in item]


# --------------------------------------------------------------------------- the store


class Registry:
    """Keys, groups (per version) and services in one SQLite file; safe across threads."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("pragma journal_mode=wal")
            self._db.execute("pragma synchronous=normal")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def _one(self, sql: str, params: tuple) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def ping(self) -> None:
        self._one("select count(*) from attribute_groups", ())

    # ------------------------------------------------------------------ attribute keys

    def get_key(self, name: str) -> dict[str, Any] | None:
        found = self._one("select body, is_published from attribute_keys where name = ?", (name,))
        return None if found is None else key_output(json.loads(found[0]), bool(found[1]))

    def list_keys(self) -> list[dict[str, Any]]:
        rows = self._all("select body, is_published from attribute_keys order by name")
        return [key_output(json.loads(body), bool(flag)) for body, flag in rows]

    def create_key(self, body: Any) -> dict[str, Any]:
        body = validate_key(body)
        with self._write() as db:
            if db.execute(
                "select 1 from attribute_keys where name = ?", (body["name"],)
            ).fetchone():
                raise RegistryError(400, f"attribute key {body['name']!r} already exists")
            db.execute(
                "insert into attribute_keys values (?, ?, ?)",
                (body["name"], _dump(body), int(bool(body.get("is_published")))),
            )
        return key_output(body, bool(body.get("is_published")))

    def update_key(self, name: str, body: Any) -> dict[str, Any]:
        body = validate_key(body)
        _same_name(name, body["name"], "attribute key")
        with self._write() as db:
            cursor = db.execute(
                "update attribute_keys set body = ?, is_published = ? where name = ?",
                (_dump(body), int(bool(body.get("is_published"))), name),
            )
            if cursor.rowcount == 0:
                raise not_found(f"attribute key {name!r} not found")
        return key_output(body, bool(body.get("is_published")))

    def delete_key(self, name: str) -> None:
        with self._write() as db:
            if db.execute("delete from attribute_keys where name = ?", (name,)).rowcount == 0:
                raise not_found(f"attribute key {name!r} not found")

    # ------------------------------------------------------------------ attribute groups

    def _render_group(self, body_text: str, flag: int) -> dict[str, Any]:
        body = json.loads(body_text)
        key = _key_dict(body.get("attribute_key"))
        registered = None
        if key.get("name"):
            found = self._one(
                "select body, is_published from attribute_keys where name = ?", (key["name"],)
            )
            if found is not None:
                registered = {**json.loads(found[0]), "is_published": bool(found[1])}
        return group_output(body, bool(flag), registered)

    def get_group(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The version asked for, or the latest; 404 when there is none."""
        if version is None:
            found = self._one(
                "select body, is_published from attribute_groups where name = ? "
                "order by version desc limit 1", (name,))  # fmt: skip
            if found is None:
                raise not_found(f"attribute group {name!r} not found")
        else:
            found = self._one(
                "select body, is_published from attribute_groups where name = ? and version = ?",
                (name, version),
            )
            if found is None:
                versions = self.group_versions(name)
                raise not_found(
                    f"attribute group {name!r} version {version} not found"
                    + (f" (versions: {', '.join(map(str, versions))})" if versions else "")
                )
        return self._render_group(*found)

    def group_versions(self, name: str) -> list[int]:
        rows = self._all(
            "select version from attribute_groups where name = ? order by version", (name,)
        )
        return [v for (v,) in rows]

    def list_groups(
        self, offline: bool | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        sql, params = "select body, is_published from attribute_groups", ()
        if name is not None:
            sql, params = sql + " where name = ?", (name,)
        rows = self._all(sql + " order by name, version", params)
        groups = [self._render_group(body, flag) for body, flag in rows]
        if offline is not None:
            groups = [g for g in groups if bool(g.get("offline")) == offline]
        return groups

    def create_group(self, body: Any) -> dict[str, Any]:
        body = validate_group(body)
        name, version = body["name"], int(body["version"])
        with self._write() as db:
            if db.execute(
                "select 1 from attribute_groups where name = ? and version = ?", (name, version)
            ).fetchone():
                raise RegistryError(
                    400, f"attribute group {name!r} version {version} already exists"
                )
            db.execute(
                "insert into attribute_groups values (?, ?, ?, ?)",
                (name, version, _dump(body), int(bool(body.get("is_published")))),
            )
        return self.get_group(name, version)

    def update_group(self, name: str, version: int, body: Any) -> dict[str, Any]:
        body = validate_group({"version": version, **body} if isinstance(body, dict) else body)
        _same_name(name, body["name"], "attribute group")
        if int(body["version"]) != version:
            raise invalid(f"the body is version {body['version']}, the path version {version}")
        with self._write() as db:
            cursor = db.execute(
                "update attribute_groups set body = ?, is_published = ? "
                "where name = ? and version = ?",
                (_dump(body), int(bool(body.get("is_published"))), name, version),
            )
            if cursor.rowcount == 0:
                raise not_found(f"attribute group {name!r} version {version} not found")
        return self.get_group(name, version)

    def delete_group(self, name: str, version: int) -> None:
        with self._write() as db:
            cursor = db.execute(
                "delete from attribute_groups where name = ? and version = ?", (name, version)
            )
            if cursor.rowcount == 0:
                raise not_found(f"attribute group {name!r} version {version} not found")

    # ------------------------------------------------------------------ services

    def get_service(self, name: str) -> dict[str, Any]:
        found = self._one("select body, is_published from services where name = ?", (name,))
        if found is None:
            raise not_found(f"service {name!r} not found")
        return service_output(json.loads(found[0]), bool(found[1]))

    def list_services(self) -> list[dict[str, Any]]:
        rows = self._all("select body, is_published from services order by name")
        return [service_output(json.loads(body), bool(flag)) for body, flag in rows]

    def _check_links(self, db: sqlite3.Connection, body: dict[str, Any]) -> None:
        missing = [
            f"{link['name']}_v{link['version']}"
            for link in body["attribute_groups"]
            if not db.execute(
                "select 1 from attribute_groups where name = ? and version = ?",
                (link["name"], link["version"]),
            ).fetchone()
        ]
        if missing:
            raise invalid(
                f"invalid service {body['name']!r}: unknown attribute group "
                f"{', '.join(missing)} (publish the groups first)"
            )

    def create_service(self, body: Any) -> dict[str, Any]:
        body = validate_service(body)
        with self._write() as db:
            if db.execute("select 1 from services where name = ?", (body["name"],)).fetchone():
                raise RegistryError(400, f"service {body['name']!r} already exists")
            self._check_links(db, body)
            db.execute(
                "insert into services values (?, ?, ?)",
                (body["name"], _dump(body), int(bool(body.get("is_published")))),
            )
        return service_output(body, bool(body.get("is_published")))

    def update_service(self, name: str, body: Any) -> dict[str, Any]:
        body = validate_service(body)
        _same_name(name, body["name"], "service")
        with self._write() as db:
            self._check_links(db, body)
            cursor = db.execute(
                "update services set body = ?, is_published = ? where name = ?",
                (_dump(body), int(bool(body.get("is_published"))), name),
            )
            if cursor.rowcount == 0:
                raise not_found(f"service {name!r} not found")
        return service_output(body, bool(body.get("is_published")))

    def delete_service(self, name: str) -> None:
        with self._write() as db:
            if db.execute("delete from services where name = ?", (name,)).rowcount == 0:
                raise not_found(f"service {name!r} not found")

    # ------------------------------------------------------------------ engines

    def set_published(self, references: dict[str, list[dict[str, Any]]], flag: bool) -> int:
        """Flag the referenced objects published (or not); all or nothing; how many changed."""
        tables = {
            "attribute_keys": ("attribute_keys", ("name",)),
            "attribute_groups": ("attribute_groups", ("name", "version")),
            "services": ("services", ("name",)),
        }
        changed = 0
        with self._write() as db:
            for kind, refs in references.items():
                table, columns = tables[kind]
                for ref in refs:
                    where = " and ".join(f"{c} = ?" for c in columns)
                    params = tuple(ref[c] for c in columns)
                    found = db.execute(
                        f"select body, is_published from {table} where {where}", params
                    ).fetchone()
                    if found is None:
                        label = "_v".join(str(p) for p in params)
                        raise not_found(f"{kind.rstrip('s').replace('_', ' ')} {label} not found")
                    if bool(found[1]) == flag:
                        continue
                    body = json.loads(found[0])
                    body["is_published"] = flag
                    db.execute(
                        f"update {table} set body = ?, is_published = ? where {where}",
                        (_dump(body), int(flag), *params),
                    )
                    changed += 1
        return changed


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _same_name(path_name: str, body_name: str, what: str) -> None:
    if path_name != body_name:
        raise invalid(f"the body names {what} {body_name!r}, the path {path_name!r}")


# --------------------------------------------------------------------------- definitions


def registry_group_input(group: dict[str, Any]) -> dict[str, Any]:
    """A group as a Signals API returns it, cut down to the input shape our models read."""
    data = {k: group[k] for k in GROUP_INPUT_FIELDS if group.get(k) is not None}
    key = data.get("attribute_key")
    if isinstance(key, dict):
        data["attribute_key"] = {k: key[k] for k in KEY_INPUT_FIELDS if key.get(k) is not None}
    return normalize_durations(data)  # a hosted API writes durations with pydantic too


def definitions_from_registry(groups: Iterable[dict[str, Any]], source: str) -> Definitions:
    """The published batch and external batch groups among `groups` (API JSON), validated."""
    wanted, notices = [], []
    for group in groups:
        if not isinstance(group, dict) or "name" not in group:
            raise InvalidInput(f"{source}: the API answered with something that is not a group")
        ident = f"{group['name']}_v{group.get('version') or 1}"
        if group.get("offline") is False:
            notices.append(f"group {ident} is a stream group: skipped (Signals computes it)")
        elif group.get("is_published") is False:
            notices.append(f"group {ident} is not published in the registry: skipped")
        else:
            wanted.append(registry_group_input(group))
    definitions = load_objects(wanted, source)
    definitions.notices[:0] = notices
    return definitions


def load_registry_definitions(settings: SignalsApiSettings) -> Definitions:
    """`definitions: registry`: the groups of the Signals API the settings point at."""
    from signals_batch.api.client import SignalsApiClient

    client = SignalsApiClient.from_settings(settings)
    if client is None:
        raise InvalidInput(
            "definitions: registry needs a Signals API: set signals_api.url in "
            "signals_batch.yml (e.g. http://127.0.0.1:8400 for `signals-batch serve`) "
            "or SIGNALS_BATCH_SIGNALS_API__URL"
        )
    with client:
        groups = client.list_attribute_groups(offline=True)
    return definitions_from_registry(groups, f"registry {client.url}")
