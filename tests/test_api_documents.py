"""The reference server's API documents: OpenAPI 3.1 valid by openapi-spec-validator, AsyncAPI 3.0
valid by the official AsyncAPI 3.0.0 JSON Schema, both self-contained, their request bodies and
message payloads the project's JSON Schemas (and accepting exactly what those schemas accept)."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from harness.schemas import registry
from reference_server.app import openapi_document, start_in_thread
from reference_server.config import ServerConfig
from reference_server.contract import (ASYNCAPI, COMPONENTS, SUFFIX, asyncapi_document, asyncapi_source,
                                       schema, schemas_dir)

ASYNCAPI_META = Path(__file__).resolve().parent / "data" / "asyncapi-3.0.0.json"


def _refs(value: Any, at: str = "#") -> Iterator[tuple[str, str]]:
    """(where, target) of every $ref in a document."""
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield at, value["$ref"]
        for key, item in value.items():
            yield from _refs(item, f"{at}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _refs(item, f"{at}/{i}")


def _pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _asyncapi_issues(document: dict[str, Any]) -> list[str]:
    meta = json.loads(ASYNCAPI_META.read_text(encoding="utf-8"))
    return [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in Draft7Validator(meta).iter_errors(document)]


# -- OpenAPI --------------------------------------------------------------------------------------

def test_openapi_is_valid() -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is in the [test] extra")
    validator.validate(openapi_document())


def _contract_part(body: Any) -> str | None:
    """The schema file a request body's schema refers to: itself a $ref into the bundled schema
    files, or an allOf whose first member is one (the rest: what the server adds)."""
    target = body.get("$ref") or (body.get("allOf") or [{}])[0].get("$ref")
    if not isinstance(target, str) or not target.startswith(COMPONENTS):
        return None
    return target[len(COMPONENTS):]


def test_every_request_body_refers_to_the_contract() -> None:
    document = openapi_document()
    files = {p.relative_to(schemas_dir()).as_posix()[: -len(SUFFIX)].replace("/", ".")
             for p in schemas_dir().rglob("*" + SUFFIX)}
    found: dict[tuple[str, str, str], str | None] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":  # the path's, not an operation
                continue
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                body = content["schema"]
                if media == "multipart/form-data":  # the JSON part is the request
                    (body,) = body["properties"].values()
                found[(method, path, media)] = _contract_part(body)
    assert all(name in files for name in found.values()), found
    assert found[("post", "/api/compute-jobs", "application/json")] == "ws-progress.job-request"
    assert found[("post", "/api/compute-jobs", "multipart/form-data")] == "ws-progress.job-request"
    assert found[("post", "/_control/feeds/{feedId}/events", "application/json")] == \
        "feed-polling.control-events-request"
    assert found[("put", "/_control/callbacks/settings", "application/json")] == "callbacks.callback-settings"
    assert found[("post", "/api/v1/exec/stop", "application/json")] == "webhooks.stop-request"


def test_openapi_request_bodies_are_the_schemas() -> None:
    paths = openapi_document(ServerConfig(tenants=("north", "south")))["paths"]

    def body(path: str) -> Any:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]

    # what the server adds to the contract: a job id is not only dots, and tenantId names only the
    # tenants this server was configured with
    contract, extra = body("/api/compute-jobs")["allOf"]
    assert contract == {"$ref": COMPONENTS + "ws-progress.job-request"}
    assert set(extra["properties"]) == {"id"} and extra["properties"]["id"]["pattern"] == "[^.]"
    tenant = body("/_control/feeds/{feedId}/events")["allOf"][1]["properties"]["tenantId"]
    assert tenant["enum"] == ["north", "south", None]
    assert body("/api/authentication/token") == {"$ref": COMPONENTS + "ws-progress.token-request"}
    job = paths["/api/compute-jobs/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert job == {"$ref": COMPONENTS + "ws-progress.job"}


def test_openapi_rejects_a_broken_schema() -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is in the [test] extra")
    broken = copy.deepcopy(openapi_document())
    broken["components"]["schemas"]["ws-progress.token-request"]["properties"]["clientId"]["type"] = "strin"
    with pytest.raises(Exception, match="strin"):
        validator.validate(broken)


# -- AsyncAPI -------------------------------------------------------------------------------------

@pytest.mark.parametrize("served", [False, True], ids=["source", "served"])
def test_asyncapi_is_valid_by_the_official_schema(served: bool) -> None:
    document = asyncapi_document("127.0.0.1:8080") if served else asyncapi_source()
    assert _asyncapi_issues(document) == []


def test_asyncapi_validation_bites() -> None:
    no_action = asyncapi_source()
    del no_action["operations"]["sendAppMessage"]["action"]
    assert [i for i in _asyncapi_issues(no_action) if i.startswith("operations/sendAppMessage")]
    bad_binding = asyncapi_source()
    bad_binding["channels"]["progressSocket"]["bindings"]["ws"]["method"] = "PATCH"
    assert [i for i in _asyncapi_issues(bad_binding) if i.startswith("channels/progressSocket")]


def test_asyncapi_source_refs_name_schema_files() -> None:
    source = asyncapi_source()
    base = (schemas_dir() / ASYNCAPI).parent
    for where, target in _refs(source):
        if target.startswith("#"):
            _pointer(source, target[1:])  # raises if it points nowhere
        else:
            assert target.endswith(SUFFIX) and (base / target).resolve().is_file(), (where, target)


def test_served_documents_are_self_contained() -> None:
    for document in (asyncapi_document(), openapi_document()):
        for where, target in _refs(document):
            assert target.startswith("#/"), (where, target)
            _pointer(document, target[1:])


def test_every_socket_message_type_has_a_message_with_a_payload() -> None:
    document = asyncapi_document()
    messages = document["components"]["messages"]
    assert all("payload" in m for m in messages.values())
    names = {m["name"] for m in messages.values()}
    for direction in ("server-message", "client-message"):
        assert set(schema(f"ws-progress/{direction}")["properties"]["messageType"]["enum"]) <= names
    socket = document["channels"]["progressSocket"]
    assert socket["address"] == "/api/compute-job-messages"
    payloads = {messages[k]["payload"]["$ref"] for k in messages}
    assert {COMPONENTS + "callbacks.callback-default-payload", COMPONENTS + "webhooks.progress",
            COMPONENTS + "webhooks.result"} <= payloads


# -- the bundled schemas accept what the files accept ---------------------------------------------

def _instances(name: str) -> list[Any]:
    """Each example of the schema, {} and each example without one of its top-level keys."""
    examples = schema(name).get("examples", [])
    out: list[Any] = [*examples, {}]
    for example in examples:
        if isinstance(example, dict):
            out += [{k: v for k, v in example.items() if k != drop} for drop in example]
    return out


@pytest.mark.parametrize("which", ["openapi", "asyncapi"])
def test_bundled_components_agree_with_their_files(which: str) -> None:
    document = openapi_document() if which == "openapi" else asyncapi_document()
    uri = f"urn:progress-conformance:{which}"
    docs: Registry[Any] = Registry().with_resource(uri, DRAFT202012.create_resource(document))
    files = {p.relative_to(schemas_dir()).as_posix()[: -len(SUFFIX)].replace("/", "."):
             p.relative_to(schemas_dir()).as_posix()[: -len(SUFFIX)] for p in schemas_dir().rglob("*" + SUFFIX)}
    checked = 0
    for key in document["components"]["schemas"]:
        if key not in files:
            continue
        bundled = Draft202012Validator({"$ref": f"{uri}#/components/schemas/{key}"}, registry=docs)
        for instance in _instances(files[key]):
            original_ok = registry().issues(files[key], instance) == []
            assert bundled.is_valid(instance) == original_ok, (key, instance)
            checked += 1
    assert checked > 20


# -- served over HTTP -----------------------------------------------------------------------------

def test_the_reference_server_serves_both() -> None:
    server = start_in_thread(ServerConfig())
    try:
        asyncapi = httpx.get(server.base_url + "/asyncapi.json", timeout=10)
        openapi = httpx.get(server.base_url + "/openapi.json", timeout=10)
    finally:
        server.stop()
    assert asyncapi.status_code == 200 and openapi.status_code == 200
    assert asyncapi.json() == asyncapi_document(f"127.0.0.1:{server.port}")
    assert asyncapi.json()["servers"]["target"]["host"] == f"127.0.0.1:{server.port}"
    assert openapi.json()["components"]["schemas"]["ws-progress.token-request"]["x-schema-id"].endswith(
        "/ws-progress/token-request.schema.json")
