"""The declarations (exams/contract/rest.py, frames.py, codes.py, limits.py) and what is generated
from them: the OpenAPI document, without a warning, and docs/api.md, up to date."""

import re
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from exams.contract import codes, docs, frames, limits, rest
from exams.contract.schema import UNIONS

ROOT = Path(__file__).resolve().parents[3]


def test_the_openapi_document_generates_without_a_warning_or_an_error():
    out = StringIO()
    # --fail-on-warn counts drf-spectacular's errors too ("unable to guess serializer", ...).
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    document = yaml.safe_load(out.getvalue())
    assert document["paths"]


def test_the_schema_endpoint_serves_it(client_for, student):
    response = client_for(student).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "StudentSocketFrame" in response.json()["components"]["schemas"]


def test_every_socket_declaration_is_a_component_of_the_document():
    schemas = docs.openapi()["components"]["schemas"]
    for name, _, declared, *_ in UNIONS:
        mapping = schemas[name]["discriminator"]["mapping"]
        assert set(declared) <= set(mapping), name
        for kind, declaration in declared.items():
            assert mapping[kind] == f"#/components/schemas/{declaration.__name__}"
            assert kind in schemas[declaration.__name__]["properties"]["type"]["enum"]
    acks = schemas["ProctorAck"]["discriminator"]["mapping"]
    assert {a: r.rsplit("/", 1)[1] for a, r in acks.items()} == {a: d.__name__ for a, d in frames.PROCTOR_ACKS.items()}


def test_docs_api_md_is_up_to_date():
    assert docs.is_current(), "docs/api.md is out of date: run `python manage.py api_doc`"


def test_the_doc_check_fails_on_a_stale_file_and_the_command_repairs_it(tmp_path, monkeypatch):
    current = docs.DOC.read_text()
    stale = tmp_path / "api.md"
    stale.write_text(current.replace("| `invalid` |", "| `invalid_message` |"))
    assert stale.read_text() != current
    monkeypatch.setattr(docs, "DOC", stale)
    with pytest.raises(CommandError, match="out of date"):
        call_command("api_doc", "--check", stdout=StringIO())
    call_command("api_doc", stdout=StringIO())
    assert stale.read_text() == current


# Where the code names an error code: `code="..."`, `status, code = 404, "..."`, `CODE = "..."`,
# `error_body("...")` and the constants of codes.py.
_CODE_LITERALS = re.compile(
    r'\bcode\s*=\s*"([a-z_]+)"|\bcode = \d+, "([a-z_]+)"|\bCODE = "([a-z_]+)"|error_body\(\s*"([a-z_]+)"'
)


def test_every_error_code_the_code_uses_is_declared():
    used = set()
    for path in [*ROOT.glob("exams/**/*.py"), *ROOT.glob("realtime/**/*.py"), *ROOT.glob("project/**/*.py")]:
        if "migrations" in path.parts or path.name == "exam_files.py":
            continue  # exam_files: `load_exam`'s own errors, never a client's
        for match in _CODE_LITERALS.finditer(path.read_text()):
            used.add(next(group for group in match.groups() if group))
    assert used, "the scan found nothing: its pattern is stale"
    assert used - set(codes.ERRORS) == set()
    constants = {
        v for k, v in vars(codes).items() if k.isupper() and isinstance(v, str) and k not in ("REST", "SOCKET", "BOTH")
    }
    assert constants <= set(codes.ERRORS)


def test_the_limits_are_the_declarations():
    answer = rest.SubmitAnswerRequest().fields
    assert answer["selected_option"].max_length == limits.MAX_OPTION_LENGTH
    assert rest.ExtendRequest().fields["seconds"].max_value == limits.MAX_EXTEND_SECONDS
    assert frames.ExtendMessage().fields["seconds"].max_value == limits.MAX_EXTEND_SECONDS
    assert frames.AnswerMessage().fields["selected_option"].max_length == limits.MAX_OPTION_LENGTH


def test_every_error_code_has_an_http_status_and_a_meaning():
    for code in codes.ERRORS.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code.code)
        assert 400 <= code.status < 600 and code.meaning
        assert code.where in (codes.REST, codes.SOCKET, codes.BOTH)


def _strings(schema: dict) -> list[dict]:
    """The plain-text branches of a property's schema (not times, enums, references)."""
    branches = schema.get("oneOf", [schema])
    return [b for b in branches if b.get("type") == "string" and "format" not in b and "enum" not in b]


def test_no_text_in_the_document_admits_a_nul_which_the_server_refuses():
    """DRF refuses U+0000 in any string, blank-allowed or not: the document must say so, or schemathesis
    sends one as valid data and gets a 400 (CI, a blank-allowed reason)."""
    validator = jsonschema.Draft202012Validator
    admitted = []
    for name, component in docs.openapi()["components"]["schemas"].items():
        for field, schema in component.get("properties", {}).items():
            # A request_id is echoed, never stored: any string is one (fields.RequestId).
            if field != "request_id" and _strings(schema) and validator(schema).is_valid("a\x00b"):
                admitted.append(f"{name}.{field}")
    assert admitted == []
    blank = docs.openapi()["components"]["schemas"]["TimeChangeRequest"]["properties"]["reason"]
    assert validator(blank).is_valid("") and validator(blank).is_valid("fire alarm")


def test_a_body_may_not_name_a_student_twice_and_the_document_says_so(client_for, proctor, exam):
    """An announcement names its one student by attempt_id or user_id: both is `invalid`, and the
    document refuses it too (schemathesis sent both as valid data and got the 400)."""
    body = {"message": "Q3 has a typo", "attempt_id": 1, "user_id": 1}
    schema = docs.openapi()["components"]["schemas"]["AnnounceRequest"]
    assert not jsonschema.Draft202012Validator(schema).is_valid(body)
    assert jsonschema.Draft202012Validator(schema).is_valid({"message": "Q3 has a typo", "user_id": 1})
    response = client_for(proctor).post(f"/api/proctor/exams/{exam.pk}/announcements/", body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")


def test_an_error_that_quotes_a_nul_from_the_client_escapes_it(client_for, proctor):
    """A query parameter's name is quoted in the refusal: a NUL in it is written `\\u0000`, since no
    text of the contract holds one (schemathesis sent one to DELETE accommodations in CI)."""
    response = client_for(proctor).delete("/api/proctor/accommodations/1/?a%00b=1")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "\x00" not in message and "a\\u0000b" in message


@pytest.mark.parametrize("reason", ["\x1c", " \t", "\u2028", "\ufeff"])
def test_a_reason_of_whitespace_only_is_refused_by_the_document_and_the_server_alike(
    reason, client_for, proctor, student, exam
):
    """U+001C is whitespace to Python, not to JSON Schema's `\\s`: the document said valid, the server
    said "A reason is required." (schemathesis in CI). Both now read one rule (fields.VISIBLE)."""
    schema = docs.openapi()["components"]["schemas"]["CloseOverrideRequest"]["properties"]["reason"]
    assert not jsonschema.Draft202012Validator(schema).is_valid(reason)
    assert jsonschema.Draft202012Validator(schema).is_valid(" bus \x1c late")
    body = {"username": student.username, "close_at": "2030-01-01T10:00:00.000Z", "reason": reason}
    response = client_for(proctor).post(f"/api/proctor/exams/{exam.pk}/close-overrides/", body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
