"""`signals-batch serve`: a local Signals-compatible API over a project's Profiles Store.

The unmodified `snowplow-signals` SDK (`SignalsSandbox(api_url=..., sandbox_token=...)`)
publishes definitions here and reads attributes back; `definitions: registry` and the sync's
republish step talk to it through `SignalsApiClient`; the `http` store pushes profiles to it.

    GET    /health, /health-all                             (no authentication)
    POST   /api/v1/registry/attribute_keys/                 create (400: exists -> SDK PUTs)
    GET    /api/v1/registry/attribute_keys/                 list
    GET    /api/v1/registry/attribute_keys/{name}           PUT: update, DELETE: remove
    POST   /api/v1/registry/attribute_groups/               create a version (400: exists)
    GET    /api/v1/registry/attribute_groups/?offline=true  list (every version)
    GET    /api/v1/registry/attribute_groups/{name}         the latest version
    GET    /api/v1/registry/attribute_groups/{name}/versions             [1, 2, ...]
    GET    /api/v1/registry/attribute_groups/{name}/versions/{version}   PUT, DELETE
    POST   /api/v1/registry/services/                       GET list; /{name}: GET PUT DELETE
    POST   /api/v1/engines/publish, /api/v1/engines/unpublish
    POST   /api/v1/get-online-attributes                    by attributes or by service
    ...    /api/v1/batch-store/...                          the push API (signals_batch.api.push)

Every route but the health checks needs `Authorization: Bearer <token>` (compared in
constant time) unless the server runs with `--no-auth` on a loopback address. Bodies over
`max_body_bytes` are refused with 413 before they are read whole; an invalid payload is a 422
whose `detail` names the problem (for groups: the attribute and the reason, as `validate`).
No header is ever logged; uvicorn's access log shows the method, path and status only.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from signals_batch.api.registry import (
    REGISTRY_FILE,
    Registry,
    RegistryError,
    group_attribute_names,
    invalid,
    key_names,
    not_found,
)
from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.stores.base import ProfileStore, StoreError

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_IDENTIFIERS = 1000
PUBLIC_PATHS = frozenset({"/health", "/health-all"})
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400
TOKEN_ENV = "SIGNALS_SANDBOX_TOKEN"

_QUALIFIED = re.compile(
    r"^(?P<name>[A-Za-z0-9_]+)_v(?P<version>[0-9]+):(?P<attribute>[A-Za-z0-9_]+)$"
)


# --------------------------------------------------------------------------- responses


def _json(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    # json.dumps as is (not starlette's allow_nan=False): a stored value may be any JSON
    return Response(
        json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


async def _send_json(
    send: Callable,
    status: int,
    data: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(data).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *(headers or [])],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- the guard


class _Guard:
    """ASGI middleware: bearer auth (before anything is read), then the body size limit.

    The body is read here, at most `max_body_bytes` of it, and replayed to the app; a larger
    one (by Content-Length or as it streams in) is answered 413 without reading the rest.
    """

    def __init__(self, app: Callable, token: str | None, max_body_bytes: int):
        self.app = app
        self._token = token.encode() if token is not None else None
        self.max_body_bytes = max_body_bytes

    def _authorized(self, scope: dict[str, Any]) -> bool:
        if self._token is None:
            return True
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credentials.strip(), self._token
                )
        return False

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in PUBLIC_PATHS and not self._authorized(scope):
            await _send_json(
                send, 401, {"detail": "missing or wrong bearer token (Authorization: Bearer ...)"},
                [(b"www-authenticate", b"Bearer")],
            )  # fmt: skip
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _send_json(send, 400, {"detail": "invalid Content-Length"})
                return
            if length > self.max_body_bytes:
                await self._too_large(send)
                return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Callable) -> None:
        limit = self.max_body_bytes
        await _send_json(send, 413, {
            "detail": f"request body too large: at most {limit} bytes "
                      f"({limit / 1024 / 1024:g} MiB) allowed"
        })  # fmt: skip


# --------------------------------------------------------------------------- stores


class _ReadStores:
    """One store per worker thread for reads (SQLite connections are not shared)."""

    def __init__(self, factory: Callable[[], ProfileStore]):
        self._factory = factory
        self._local = threading.local()
        self._opened: list[ProfileStore] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> ProfileStore:
        store = getattr(self._local, "store", None)
        if store is None:
            # One at a time: opening a SQLite store may write its schema, and many threads
            # doing so at once would queue on the write lock with growing busy waits.
            with self._lock:
                if self._closed:
                    raise HTTPException(503, "the server is shutting down")
                try:
                    store = self._factory()
                except StoreError as error:
                    raise HTTPException(503, str(error)) from None
                self._opened.append(store)
            self._local.store = store
        return store

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for store in opened:
            with suppress(Exception):  # closing at shutdown: nothing left to do
                store.close()


def project_store(project_dir: Path | str) -> tuple[Callable[[], ProfileStore], Path, str]:
    """The store a project's settings name, the registry path beside it, a description.

    A project whose own store is `http` is the client of a server like this one: the server
    then keeps the profiles in the project's local file (`store.path`).
    """
    from signals_batch.project import STATE_DIR, Project
    from signals_batch.stores import open_store

    project = Project(project_dir)
    settings = project.settings.store
    if settings.type == "http":
        settings = settings.model_copy(update={"type": "local", "url": None})
    if settings.type == "local":
        path = Path(settings.path)
        path = path if path.is_absolute() else project.dir / path
        registry = path.parent / REGISTRY_FILE
        description = f"local store {path}"
    else:
        registry = project.dir / STATE_DIR / REGISTRY_FILE
        description = f"{settings.type} store"
    return (lambda: open_store(settings, project.dir)), registry, description


# --------------------------------------------------------------------------- request bodies


class _KeyRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class _GroupRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: Annotated[int, Field(gt=0)]


class PublishRequest(BaseModel):
    """The SDK's SelectivePublishRequest / UnpublishRequest."""

    model_config = ConfigDict(extra="forbid")
    attribute_keys: list[_KeyRef] | None = None
    attribute_groups: list[_GroupRef] | None = None
    services: list[_KeyRef] | None = None
    interventions: list[dict[str, Any]] | None = None
    event_logs: list[dict[str, Any]] | None = None
    agentic_decisions: list[dict[str, Any]] | None = None


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class OnlineRequest(BaseModel):
    """The SDK's GetAttributeGroupAttributesRequest / GetServiceAttributesRequest."""

    model_config = ConfigDict(extra="forbid")
    attribute_keys: dict[str, list[Identifier]]
    attributes: list[str] | None = None
    service: str | None = None
    full_attribute_names: bool | None = False


# --------------------------------------------------------------------------- the app


def create_app(
    project_dir: Path | str | None = None,
    *,
    token: str | None,
    store_path: Path | str | None = None,
    store_factory: Callable[[], ProfileStore] | None = None,
    registry_path: Path | str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API over the store of the project in `project_dir` (or the local store file
    `store_path`, or what `store_factory` opens); registry in `registry_path` (default:
    `registry.sqlite` beside the local store). `token=None`: no authentication."""
    if token is not None and not token.strip():
        raise InvalidInput("the bearer token is empty")
    if store_factory is None:
        if project_dir is not None:
            store_factory, beside, _ = project_store(project_dir)
        elif store_path is not None:
            from signals_batch.stores.local import LocalStore

            path = Path(store_path)
            store_factory, beside = (lambda: LocalStore(path)), path.parent / REGISTRY_FILE
        else:
            raise ValueError("create_app needs project_dir, store_path or store_factory")
        registry_path = registry_path or beside
    if registry_path is None:
        raise ValueError("create_app needs registry_path with a store_factory")

    registry = Registry(registry_path)
    readers = _ReadStores(store_factory)

    from signals_batch.api.push import push_router

    push = push_router(store_factory)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            push.close_store()  # type: ignore[attr-defined]
            readers.close()
            registry.close()

    app = FastAPI(
        title="signals-batch serve",
        description="A local Signals-compatible API over a signals-batch Profiles Store.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.registry = registry
    app.state.readers = readers
    app.add_middleware(_Guard, token=token, max_body_bytes=max_body_bytes)

    @app.exception_handler(RegistryError)
    async def _registry_error(_request: Request, error: RegistryError) -> Response:
        data: dict[str, Any] = {"detail": error.message}
        if error.problems:
            data["problems"] = [
                {"group": p.group, "attribute": p.attribute, "message": p.message}
                for p in error.problems
            ]
        return _json(data, error.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError) -> Response:
        return _json(_validation_message(error.errors()), 422)

    @app.get("/health")
    def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/health-all")
    def health_all() -> Response:
        checks = {"registry": "ok", "store": "ok"}
        try:
            registry.ping()
        except Exception:  # reported, not raised: this is the health check
            checks["registry"] = "error"
        try:
            readers.get().get_watermark("__health__")
        except Exception:
            checks["store"] = "error"
        healthy = all(v == "ok" for v in checks.values())
        return _json(
            {"status": "ok" if healthy else "error", "components": checks}, 200 if healthy else 503
        )

    app.include_router(_registry_routes(registry))
    app.include_router(_engine_routes(registry))
    app.include_router(_online_routes(registry, readers))
    app.include_router(push)
    return app


def _validation_message(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's validation errors as one clear sentence, plus the list (without inputs)."""
    shown = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    for item in errors:
        if item.get("type") == "json_invalid":
            reason = (item.get("ctx") or {}).get("error", "cannot be parsed")
            return {"detail": f"the request body is not valid JSON: {reason}", "errors": shown}
    first = shown[0] if shown else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    more = f" (and {len(shown) - 1} more)" if len(shown) > 1 else ""
    return {"detail": f"invalid request: {where}: {first['msg']}{more}", "errors": shown}


JsonBody = Annotated[dict[str, Any], Body()]


def _registry_routes(registry: Registry) -> APIRouter:
    router = APIRouter(prefix=f"{API_PREFIX}/registry", tags=["registry"])

    # ---- attribute keys
    @router.post("/attribute_keys/", status_code=201)
    def create_key(body: JsonBody) -> Response:
        return _json(registry.create_key(body), 201)

    @router.get("/attribute_keys/")
    def list_keys() -> Response:
        return _json(registry.list_keys())

    @router.get("/attribute_keys/{name}")
    def get_key(name: str) -> Response:
        found = registry.get_key(name)
        if found is None:
            raise not_found(f"attribute key {name!r} not found")
        return _json(found)

    @router.put("/attribute_keys/{name}")
    def update_key(name: str, body: JsonBody) -> Response:
        return _json(registry.update_key(name, body))

    @router.delete("/attribute_keys/{name}")
    def delete_key(name: str) -> Response:
        registry.delete_key(name)
        return _json({"ok": True})

    # ---- attribute groups
    @router.post("/attribute_groups/", status_code=201)
    def create_group(body: JsonBody) -> Response:
        return _json(registry.create_group(body), 201)

    @router.get("/attribute_groups/")
    def list_groups(offline: bool | None = Query(None), name: str | None = Query(None)):
        return _json(registry.list_groups(offline=offline, name=name))

    @router.get("/attribute_groups/{name}")
    def latest_group(name: str) -> Response:
        return _json(registry.get_group(name))

    @router.get("/attribute_groups/{name}/versions")
    def group_versions(name: str) -> Response:
        versions = registry.group_versions(name)
        if not versions:
            raise not_found(f"attribute group {name!r} not found")
        return _json(versions)

    @router.get("/attribute_groups/{name}/versions/{version}")
    def get_group(name: str, version: int) -> Response:
        return _json(registry.get_group(name, version))

    @router.put("/attribute_groups/{name}/versions/{version}")
    def update_group(name: str, version: int, body: JsonBody) -> Response:
        return _json(registry.update_group(name, version, body))

    @router.delete("/attribute_groups/{name}/versions/{version}")
    def delete_group(name: str, version: int) -> Response:
        registry.delete_group(name, version)
        return _json({"ok": True})

    # ---- services
    @router.post("/services/", status_code=201)
    def create_service(body: JsonBody) -> Response:
        return _json(registry.create_service(body), 201)

    @router.get("/services/")
    def list_services() -> Response:
        return _json(registry.list_services())

    @router.get("/services/{name}")
    def get_service(name: str) -> Response:
        return _json(registry.get_service(name))

    @router.put("/services/{name}")
    def update_service(name: str, body: JsonBody) -> Response:
        return _json(registry.update_service(name, body))

    @router.delete("/services/{name}")
    def delete_service(name: str) -> Response:
        registry.delete_service(name)
        return _json({"ok": True})

    return router


def _engine_routes(registry: Registry) -> APIRouter:
    router = APIRouter(prefix=f"{API_PREFIX}/engines", tags=["engines"])

    def change(body: PublishRequest, flag: bool) -> int:
        unsupported = [k for k in ("interventions", "event_logs", "agentic_decisions")
                       if getattr(body, k)]  # fmt: skip
        if unsupported:
            raise invalid(f"signals-batch serve does not support {', '.join(unsupported)}")
        references = {
            "attribute_keys": [r.model_dump() for r in body.attribute_keys or []],
            "attribute_groups": [r.model_dump() for r in body.attribute_groups or []],
            "services": [r.model_dump() for r in body.services or []],
        }
        return registry.set_published(references, flag)

    @router.post("/publish")
    def publish(body: PublishRequest) -> Response:
        changed = change(body, True)
        return _json({"status": "published" if changed else "nothing to publish"})

    @router.post("/unpublish")
    def unpublish(body: PublishRequest) -> Response:
        changed = change(body, False)
        return _json({"status": "unpublished" if changed else "nothing to unpublish"})

    return router


def _online_routes(registry: Registry, readers: _ReadStores) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, tags=["attributes"])

    @router.post("/get-online-attributes")
    def get_online_attributes(body: OnlineRequest) -> Response:
        keys = body.attribute_keys
        if not keys or not all(keys.values()):
            raise invalid("attribute_keys needs a key name and at least one identifier")
        if sum(len(ids) for ids in keys.values()) > MAX_IDENTIFIERS:
            raise invalid(f"at most {MAX_IDENTIFIERS} identifiers per request")
        if (body.attributes is None) == (body.service is None):
            raise invalid("give either `attributes` (<group>_v<version>:<attribute>) "
                          "or `service`, not both or neither")  # fmt: skip
        wanted = (_by_attributes(registry, body.attributes) if body.attributes is not None
                  else _by_service(registry, body.service or "", set(keys)))  # fmt: skip
        data: dict[str, Any] = {name: list(ids) for name, ids in keys.items()}
        store = readers.get()
        for ident, group, attributes in wanted:
            matching = [name for name in keys if name in key_names(group["attribute_key"])]
            if not matching:
                raise invalid(
                    f"attribute group {ident} is keyed by {group['attribute_key']['name']}; "
                    f"attribute_keys has {', '.join(keys)}"
                )
            identifiers = keys[matching[0]]
            try:
                profiles = [store.get(ident, value, attributes) for value in identifiers]
            except StoreError as error:
                raise HTTPException(503, str(error)) from None
            for attribute in attributes:
                name = f"{ident}:{attribute}" if body.full_attribute_names else attribute
                if name in data:
                    raise invalid(
                        f"attribute {attribute!r} is asked for twice (from more than one group "
                        "or as a key name): ask with full_attribute_names: true"
                    )
                data[name] = [p.get(attribute) if p else None for p in profiles]
        return _json(data)

    return router


def _published_group(
    registry: Registry, name: str, version: int, cache: dict[tuple[str, int], dict[str, Any]]
) -> dict[str, Any]:
    if (name, version) not in cache:
        group = registry.get_group(name, version)
        if not group.get("is_published"):
            raise not_found(
                f"attribute group {name!r} version {version} is not published "
                "(publish it with the SDK, or run `signals-batch sync`)"
            )
        cache[(name, version)] = group
    return cache[(name, version)]


Wanted = list[tuple[str, dict[str, Any], list[str]]]  # (ident, group, attribute names)


def _by_attributes(registry: Registry, attributes: list[str]) -> Wanted:
    if not attributes:
        raise invalid("attributes is empty")
    cache: dict[tuple[str, int], dict[str, Any]] = {}
    wanted: dict[str, list[str]] = {}
    for text in attributes:
        match = _QUALIFIED.match(text)
        if match is None:
            raise invalid(f"attribute {text!r} is not <group>_v<version>:<attribute>")
        name, version, attribute = match["name"], int(match["version"]), match["attribute"]
        group = _published_group(registry, name, version, cache)
        if attribute not in group_attribute_names(group):
            raise not_found(
                f"attribute group {name}_v{version} has no attribute {attribute!r} "
                f"(it has {', '.join(group_attribute_names(group))})"
            )
        names = wanted.setdefault(f"{name}_v{version}", [])
        if attribute not in names:
            names.append(attribute)
    return [(ident, cache[_split_ident(ident)], names) for ident, names in wanted.items()]


def _split_ident(ident: str) -> tuple[str, int]:
    name, _, version = ident.rpartition("_v")
    return name, int(version)


def _by_service(registry: Registry, service: str, key_names_asked: set[str]) -> Wanted:
    found = registry.get_service(service)
    cache: dict[tuple[str, int], dict[str, Any]] = {}
    wanted = {}
    for link in found["attribute_groups"]:
        name, version = link["name"], int(link.get("version") or 1)
        group = _published_group(registry, name, version, cache)
        if key_names(group["attribute_key"]) & key_names_asked:
            wanted[f"{name}_v{version}"] = group_attribute_names(group)
    if not wanted:
        raise invalid(
            f"service {service!r} has no attribute group keyed by {', '.join(key_names_asked)}"
        )
    return [(ident, cache[_split_ident(ident)], names) for ident, names in wanted.items()]


# --------------------------------------------------------------------------- running it


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_token(host: str, token: str | None, no_auth: bool) -> str | None:
    """The token to require, or None (no auth); InvalidInput for an unsafe combination."""
    if no_auth:
        if not is_loopback(host):
            raise InvalidInput(
                f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), "
                f"not {host}: set {TOKEN_ENV} to serve on {host} with a bearer token"
            )
        return None
    if token is None or not token.strip():
        raise InvalidInput(
            f"no token: set {TOKEN_ENV} (clients send it as `Authorization: Bearer ...`), or "
            "pass --no-auth to serve without authentication on a loopback address"
        )
    return token.strip()


def check_can_listen(host: str, port: int) -> None:
    """Fail with one line (exit 1) when the address is taken or not this machine's, before
    uvicorn would log it over several lines and exit 3."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as error:
        raise SignalsBatchError(
            f"cannot listen on {host}:{port}: {error.strerror or error}; choose another --port "
            "or stop what is using it") from None


def serve(
    project_dir: Path | str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    token: str | None,
    no_auth: bool = False,
    log_level: str = "info",
    started: Callable[[str], None] | None = None,
    log_formatter: type[logging.Formatter] | None = None,
) -> None:
    """Run the server until interrupted (uvicorn; access log without headers), its logs on
    stderr, formatted by `log_formatter` when given (the CLI's JSON lines)."""
    required = bind_token(host, token, no_auth)
    try:
        import uvicorn
    except ImportError:
        raise InvalidInput(
            "serve needs FastAPI and uvicorn: pip install -e '.[serve]' in the signals-batch "
            "checkout"
        ) from None
    app = create_app(project_dir, token=required)
    check_can_listen(host, port)
    if started is not None:
        shown = f"[{host}]" if ":" in host else host
        started(f"http://{shown}:{port}")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=uvicorn_log_config(log_formatter),
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


def uvicorn_log_config(formatter: type[logging.Formatter] | None = None) -> dict[str, Any]:
    """uvicorn's logging, every line on stderr (its default sends the access log to stdout,
    where the CLI writes data only); `formatter` replaces its text formats."""
    if formatter is not None:
        formatters: dict[str, Any] = {"server": {"()": formatter}, "access": {"()": formatter}}
    else:
        formatters = {
            "server": {"()": "uvicorn.logging.DefaultFormatter",
                       "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
            "access": {"()": "uvicorn.logging.AccessFormatter",
                       "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" '
                              "%(status_code)s"},
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "server": {"class": "logging.StreamHandler", "formatter": "server",
                       "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "access",
                       "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["server"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
