"""The contract the reference server documents: the JSON Schemas of schemas/ and the AsyncAPI
document beside them, read as files (the reference server never imports the harness).

Schemas are found in the source tree (schemas/) or, from a wheel, in harness/_data/schemas. In the
served OpenAPI and AsyncAPI documents each schema file is one entry of ``components/schemas``,
named after its path (``ws-progress/job-request`` -> ``ws-progress.job-request``), with every
``$ref`` (to another file's ``$id`` or inside the file) turned into a pointer into the same
document: a served document needs nothing outside itself. ``x-schema-id`` keeps the file's ``$id``.
Request bodies are checked against the same files (:func:`errors`), so the server refuses what its
documents refuse.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

_ROOT = Path(__file__).resolve().parent.parent
SUFFIX = ".schema.json"
MESSAGE_CHARS = 200  # an error message quotes the instance: a huge value must not make a huge answer
ASYNCAPI = "asyncapi/progress.asyncapi.json"
COMPONENTS = "#/components/schemas/"


def schemas_dir() -> Path:
    for candidate in (_ROOT / "harness" / "_data" / "schemas", _ROOT / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the schemas/ directory under {_ROOT}")


@lru_cache(maxsize=None)
def _file(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas_dir() / relative).read_text(encoding="utf-8"))
    return loaded


@lru_cache(maxsize=1)
def _names_by_id() -> dict[str, str]:
    root = schemas_dir()
    out: dict[str, str] = {}
    for path in sorted(root.rglob(f"*{SUFFIX}")):
        name = path.relative_to(root).as_posix()[: -len(SUFFIX)]
        out[_file(name + SUFFIX)["$id"]] = name
    return out


def schema(name: str) -> dict[str, Any]:
    """``schemas/<name>.schema.json`` as it is (a copy), e.g. ``schema("ws-progress/job")``."""
    return copy.deepcopy(_file(name + SUFFIX))


@lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    files = [_file(n + SUFFIX) for n in _names_by_id().values()]
    registry: Registry[Any] = Registry().with_resources(
        (f["$id"], Resource.from_contents(f)) for f in files)
    return Draft202012Validator(_file(name + SUFFIX), registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(name: str, document: Any) -> list[str]:
    """Why ``document`` is not valid by ``schemas/<name>.schema.json`` (``[]``: it is), each as
    ``<JSON path>: <message>``, in document order."""
    found = sorted(_validator(name).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{e.json_path}: {e.message[:MESSAGE_CHARS]}" for e in found]


def component(name: str) -> str:
    """The ``components/schemas`` key of a schema file: ``ws-progress/job`` -> ``ws-progress.job``."""
    return name.replace("/", ".")


def ref(name: str) -> dict[str, str]:
    """A reference to ``schemas/<name>.schema.json`` from an OpenAPI or AsyncAPI document."""
    return {"$ref": COMPONENTS + component(name)}


def _local(name: str, value: Any, needed: set[str]) -> Any:
    """``value`` (part of schema ``name``) with every ``$ref`` pointing into components/schemas."""
    if isinstance(value, list):
        return [_local(name, item, needed) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _local(name, item, needed) for key, item in value.items()}
    target = value.get("$ref")
    if isinstance(target, str):
        base, _, fragment = target.partition("#")
        if base and "://" not in base:  # relative to the file's own $id
            base = urljoin(_file(name + SUFFIX)["$id"], base)
        owner = _names_by_id().get(base) if base else name
        if owner is None:
            raise KeyError(f"{name}: $ref {target!r} names no schema in {schemas_dir()}")
        needed.add(owner)
        out["$ref"] = COMPONENTS + component(owner) + fragment
    return out


def components(names: list[str]) -> dict[str, dict[str, Any]]:
    """``components/schemas`` for these schema files and every schema file they reference."""
    out: dict[str, dict[str, Any]] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if component(name) in out:
            continue
        needed: set[str] = set()
        body = _local(name, schema(name), needed)
        body.pop("$schema", None)
        body["x-schema-id"] = body.pop("$id")
        out[component(name)] = body
        pending += sorted(needed)
    return dict(sorted(out.items()))


def with_components(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with ``components/schemas`` filled in for every schema file it references."""
    names = {component(n): n for n in _names_by_id().values()}
    wanted = sorted({names[r[len(COMPONENTS):]] for r in _refs(document)
                     if r.startswith(COMPONENTS) and r[len(COMPONENTS):] in names})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components(wanted))
    return document


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def asyncapi_source() -> dict[str, Any]:
    """The AsyncAPI document as written: component schemas are relative ``$ref``s to schema files."""
    return copy.deepcopy(_file(ASYNCAPI))


def asyncapi_document(host: str | None = None) -> dict[str, Any]:
    """The AsyncAPI document as served: its schema files bundled into ``components/schemas``.

    ``host`` (``127.0.0.1:8080``) replaces the example host of the server under test.
    """
    doc = asyncapi_source()
    base = PurePosixPath(ASYNCAPI).parent
    files = [str(_normalised(base / entry["$ref"]))[: -len(SUFFIX)]
             for entry in doc["components"]["schemas"].values()]
    doc["components"]["schemas"] = components(files)
    if host:
        doc["servers"]["target"]["host"] = host
    return doc


def _normalised(path: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)
