"""One registry of every schema in schemas/, loaded once, with precompiled validators."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from harness.resources import schemas_dir

SCHEMA_SUFFIX = ".schema.json"
FORMATS = ("date-time", "uri", "uri-reference")  # every "format" the schemas use (tests/test_schemas_examples.py)


@dataclass(frozen=True)
class Issue:
    """One reason a document is invalid: where (a JSON path) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SchemaRegistry:
    """Schemas by short name (``feed-polling/batch``) and by ``$id``."""

    def __init__(self, root: Path) -> None:
        self._schemas: dict[str, dict[str, Any]] = {}
        resources: list[tuple[str, Resource[Any]]] = []
        for path in sorted(root.rglob(f"*{SCHEMA_SUFFIX}")):
            name = path.relative_to(root).as_posix()[: -len(SCHEMA_SUFFIX)]
            schema = json.loads(path.read_text(encoding="utf-8"))
            if "$id" not in schema:
                raise ValueError(f"{path}: schema has no $id")
            self._schemas[name] = schema
            resources.append((schema["$id"], Resource.from_contents(schema)))
        self._registry: Registry[Any] = Registry().with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {
            name: Draft202012Validator(schema, registry=self._registry,
                                       format_checker=FormatChecker(formats=FORMATS))
            for name, schema in self._schemas.items()
        }

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, name: str) -> dict[str, Any]:
        return self._schemas[self._resolve(name)]

    def _resolve(self, name: str) -> str:
        if name in self._schemas:
            return name
        for short, schema in self._schemas.items():
            if schema["$id"] == name:
                return short
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(self.names())}")

    def issues(self, name: str, document: Any) -> list[Issue]:
        validator = self._validators[self._resolve(name)]
        found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        return [Issue(e.json_path, e.message) for e in found]

    def is_valid(self, name: str, document: Any) -> bool:
        return not self.issues(name, document)


@lru_cache(maxsize=1)
def registry() -> SchemaRegistry:
    return SchemaRegistry(schemas_dir())
