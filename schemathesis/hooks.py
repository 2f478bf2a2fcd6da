"""Schemathesis hooks for schemas/openapi.json: valid credentials in the body.

The page puts the auth parameters (api_token, username, contextname) in the
JSON body of every request, GET and DELETE included ("Authentication"), so
the OpenAPI document can declare no securitySchemes and Schemathesis cannot
supply them on its own. Before every call this hook replaces each auth
parameter that the generated body carries as a string with the real value;
a parameter left out, or of another JSON type, stays as generated, so the
negative cases still reach the server.

The values come from IPDR_API_TOKEN, IPDR_USERNAME and IPDR_CONTEXT, or,
where one is unset, from the harness user of the reference server's built-in
fixture (fixtures/reference-users.json), which `ipdr-conformance serve` uses.
"""

import json
import os
from pathlib import Path

import schemathesis

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "reference-users.json"


def _credentials():
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    harness = fixture["harness"]
    user = next(u for u in fixture["users"] if u["username"] == harness["username"])
    return {
        "api_token": os.environ.get("IPDR_API_TOKEN") or user["api_token"],
        "username": os.environ.get("IPDR_USERNAME") or harness["username"],
        "contextname": os.environ.get("IPDR_CONTEXT") or harness["context"],
    }


CREDENTIALS = _credentials()


@schemathesis.hook
def before_call(context, case, kwargs):
    """Puts the real credentials into a generated body's string auth parameters."""
    if isinstance(case.body, dict):
        for key, value in CREDENTIALS.items():
            if isinstance(case.body.get(key), str):
                case.body[key] = value
