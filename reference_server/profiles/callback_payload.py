"""The callback body: the default payload (two variants, seed 003 shows both) or a template.

A template is any JSON value; in each of its strings the placeholders of seed 003 are replaced:
``&$NAME#`` system values (``&$RUNID#``, ``&$EXECUTION_STATUS#``, ``&$CLIENT#``...) and ``&NAME#``
object variables, which come from the execution request's ``inputs``. Keys are not filled. A
placeholder the server does not know becomes the empty string (as an undefined variable does in
the Automation Engine's own scripts), and every filled value is a string, as in the seed's
template response (``"execution_status": "1900"``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

DefaultPayload = Literal["run_id", "runid"]

PLACEHOLDER = re.compile(r"&(\$?[A-Za-z_][A-Za-z0-9_.@$]*)#")

# values of the system the reference server pretends to be (seed 003's example shows
# "ae_system": "AUTOMIC", "client_description": "Test client", "user_department": "CD/CD")
SYSTEM = "AUTOMIC"
CLIENT_DESCRIPTION = "Test client"
USER = "CONFORMANCE"
DEPARTMENT = "QA"
NO_ERROR_CODE = "00000000"


@dataclass(frozen=True)
class Outcome:
    """What the callback reports about one execution."""

    run_id: int
    client: str
    object_name: str
    object_type: str
    status: int
    status_text: str
    error_message: str = ""
    error_code: str = NO_ERROR_CODE
    error_insert: str = ""
    archive_key1: str = ""
    alias: str = ""
    queue: str = ""


def variable_name(name: str) -> str:
    """An object variable's canonical name: ``&VAR1#``, ``VAR1#`` and ``var1`` are all VAR1."""
    return name.removeprefix("&").removesuffix("#").upper()


def system_values(outcome: Outcome) -> dict[str, str]:
    """The ``&$...#`` placeholders, by name without ``&`` and ``#``."""
    return {
        "$RUNID": f"{outcome.run_id:010d}",
        "$OBJECT_TYPE": outcome.object_type,
        "$NAME": outcome.object_name,
        "$ALIAS": outcome.alias or outcome.object_name,
        "$QUEUE": outcome.queue,
        "$EXECUTION_STATUS": str(outcome.status),
        "$EXECUTION_STATUS_TEXT": outcome.status_text,
        "$LAST_ERROR_MESSAGE": outcome.error_message,
        "$LAST_ERROR_CODE": outcome.error_code,
        "$LAST_ERROR_INSERT": outcome.error_insert,
        "$SYSTEM": SYSTEM,
        "$CLIENT": f"{int(outcome.client):04d}",
        "$CLIENT_DESC": CLIENT_DESCRIPTION,
        "$USER": USER,
        "$DEPARTMENT": DEPARTMENT,
        "$ARCHIVE_KEY1": outcome.archive_key1,
    }


def default_payload(outcome: Outcome, variant: DefaultPayload) -> dict[str, Any]:
    """Seed 003's "Callback payload" (run_id) or its default-payload response (runid)."""
    if variant == "runid":
        return {"runid": f"{outcome.run_id:010d}", "object_type": outcome.object_type,
                "execution_status": str(outcome.status)}
    return {"run_id": outcome.run_id, "name": outcome.object_name, "status": outcome.status}


def fill_template(template: Any, outcome: Outcome, variables: dict[str, str]) -> Any:
    """The template with every placeholder of every string replaced (unknown ones by "")."""
    values = system_values(outcome)
    known = {variable_name(name): value for name, value in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("$"):
            return values.get(name.upper(), "")
        return known.get(name.upper(), "")

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return PLACEHOLDER.sub(replace, node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    return fill(template)
