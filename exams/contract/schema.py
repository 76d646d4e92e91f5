"""The socket frames in the OpenAPI document, from the same declarations as the REST bodies.

A drf-spectacular postprocessing hook (settings.SPECTACULAR_SETTINGS) adds every frame and
client message declared in frames.py as a component, and one union per socket and direction
(`StudentSocketFrame`, `ProctorSocketMessage`, ...) discriminated by `type`.
"""

from drf_spectacular.plumbing import ResolvedComponent, build_mocked_view
from drf_spectacular.utils import extend_schema

from . import frames

# (component, socket, its declarations by type, direction, what it is)
UNIONS: list[tuple[str, str, dict[str, frames.Declaration], str, str]] = [
    (
        "StudentSocketFrame",
        "student",
        frames.STUDENT_FRAMES,
        "response",
        "A frame the server sends on a student's socket",
    ),
    ("StudentSocketMessage", "student", frames.STUDENT_MESSAGES, "request", "A message a student's socket takes"),
    (
        "ProctorSocketFrame",
        "proctor",
        frames.PROCTOR_FRAMES,
        "response",
        "A frame the server sends on a proctor's socket",
    ),
    ("ProctorSocketMessage", "proctor", frames.PROCTOR_MESSAGES, "request", "A message a proctor's socket takes"),
    (
        "WaitingSocketFrame",
        "waiting",
        frames.WAITING_FRAMES,
        "response",
        "A frame the server sends on a student's waiting-room socket",
    ),
    ("WaitingSocketMessage", "waiting", frames.WAITING_MESSAGES, "request", "A message a waiting-room socket takes"),
]


def add_socket_frames(result: dict, generator, **kwargs) -> dict:
    """Add the socket declarations to the generated document's components."""
    registry = generator.registry
    schema = build_mocked_view("GET", "/", extend_schema(), registry).schema

    def ref(declaration, direction: str) -> dict:
        return schema.resolve_serializer(declaration, direction).ref

    unions: dict[str, dict] = {}
    acks = {action: ref(d, "response") for action, d in frames.PROCTOR_ACKS.items()}
    unions["ProctorAck"] = _union("The reply to a proctor's action", "action", acks)
    for name, socket, by_type, direction, what in UNIONS:
        path = frames.SOCKETS[socket][0]
        mapping = {kind: ref(declaration, direction) for kind, declaration in by_type.items()}
        if name == "ProctorSocketFrame":
            mapping["ack"] = {"$ref": "#/components/schemas/ProctorAck"}
        unions[name] = _union(f"{what}: `{path}`.", "type", mapping)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, component in registry.build({}).get("schemas", {}).items():
        if name not in schemas:
            schemas[name] = _without_enum_ids(component)
    for name, union in unions.items():
        registry.register_on_missing(ResolvedComponent(name, ResolvedComponent.SCHEMA, object=name, schema=union))
        schemas[name] = union
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result


def _union(description: str, key: str, mapping: dict[str, dict]) -> dict:
    refs = list({r["$ref"]: r for r in mapping.values()}.values())
    return {
        "description": description,
        "oneOf": refs,
        "discriminator": {"propertyName": key, "mapping": {k: r["$ref"] for k, r in mapping.items()}},
    }


def _without_enum_ids(schema):
    """drf-spectacular's enum hook strips its `x-spec-enum-id` marks; these components come after it."""
    if isinstance(schema, dict):
        return {k: _without_enum_ids(v) for k, v in schema.items() if k != "x-spec-enum-id"}
    if isinstance(schema, list):
        return [_without_enum_ids(v) for v in schema]
    return schema


def path_ids_from_one(result: dict, generator, **kwargs) -> dict:
    """Every id in a path (`exam_id`, `attempt_id`) is a whole number from 1, as the database's are."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("schema", {}).get("type") == "integer":
                    parameter["schema"]["minimum"] = 1
    return result


def fields_not_together(result: dict, generator, **kwargs) -> dict:
    """A request body whose declaration names `not_together` fields may not hold them all:
    `"not": {"required": [...]}`, so a client (or a fuzzer) knows before the server says `invalid`."""
    from . import rest

    schemas = result.get("components", {}).get("schemas", {})
    for name, declaration in vars(rest).items():
        fields = getattr(declaration, "not_together", None)
        if fields and isinstance(declaration, type) and name in schemas:
            schemas[name]["not"] = {"required": list(fields)}
    return result
