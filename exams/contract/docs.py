"""docs/api.md's tables, generated from the OpenAPI document (itself generated from the
declarations) and from the error codes, close codes and limits.

`python manage.py api_doc` rewrites each block between `<!-- generated:NAME -->` and
`<!-- end generated:NAME -->`; `--check` fails when the file is out of date (a test runs it).
"""

import re
from pathlib import Path

from django.conf import settings

from .codes import CLOSE_CODES, ERRORS
from .limits import LIMITS
from .schema import UNIONS

DOC = Path(settings.BASE_DIR) / "docs" / "api.md"
_BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z-]+) -->\n).*?(<!-- end generated:(?P=name) -->)", re.S)
_EMPTY_STRING = {"type": "string", "maxLength": 0}
_REF = "#/components/schemas/"


def openapi() -> dict:
    """The OpenAPI document /api/schema/ serves."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(public=True)


def render(text: str, document: dict | None = None) -> str:
    """`text` with every generated block made afresh."""
    document = document or openapi()
    blocks = _Blocks(document)

    def fill(match: re.Match) -> str:
        return match.group(1) + blocks.render(match.group("name")) + match.group(3)

    return _BLOCK.sub(fill, text)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(name: str) -> str:
    return name.lower()


class _Blocks:
    def __init__(self, document: dict) -> None:
        self.paths = document["paths"]
        self.schemas = document["components"]["schemas"]

    def render(self, name: str) -> str:
        method = getattr(self, "block_" + name.replace("-", "_"), None)
        if method is None:
            raise ValueError(f"docs/api.md has a generated block {name!r} that nothing renders")
        return method().rstrip("\n") + "\n"

    # --- REST -------------------------------------------------------------------------

    def block_rest_endpoints(self) -> str:
        lines = ["| method, path | request body | success | errors | what |", "|---|---|---|---|---|"]
        for path, operations in self.paths.items():
            for method, operation in operations.items():
                request = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                successes = [
                    f"{status} {self._success(response['content'])}"
                    for status, response in operation["responses"].items()
                    if status.startswith("2")
                ]
                failures = [status for status in operation["responses"] if status >= "400"]
                what = operation.get("description", "").split("\n\n")[0]
                lines.append(
                    f"| {method.upper()} `{path}` | {self._type(request['schema']) if request else '-'} | "
                    f"{', '.join(successes)} | {', '.join(failures)} | {_cell(what)} |"
                )
        return "\n".join(lines)

    def block_rest_bodies(self) -> str:
        return self._tables(self._reachable([op for ops in self.paths.values() for op in ops.values()]))

    # --- Sockets ------------------------------------------------------------------------

    def block_socket_messages(self) -> str:
        lines = []
        for union, *_ in UNIONS:
            schema = self.schemas[union]
            lines += [f"**{union}**: {_cell(schema['description'])}", "", "| `type` | shape |", "|---|---|"]
            for kind, ref in schema["discriminator"]["mapping"].items():
                inner = self.schemas[ref[len(_REF) :]]
                if "discriminator" in inner:  # `ack`, by its `action`
                    key = inner["discriminator"]["propertyName"]
                    for value, inner_ref in inner["discriminator"]["mapping"].items():
                        lines.append(f"| `{kind}` (`{key}`: `{value}`) | {self._link(inner_ref)} |")
                else:
                    lines.append(f"| `{kind}` | {self._link(ref)} |")
            lines.append("")
        return "\n".join(lines)

    def block_socket_shapes(self) -> str:
        rest = self._reachable([op for ops in self.paths.values() for op in ops.values()])
        names = self._reachable([self.schemas[u] for u, *_ in UNIONS] + [self.schemas["ProctorAck"]])
        return self._tables([n for n in names if n not in rest])

    # --- Codes and limits -----------------------------------------------------------------

    def block_error_codes(self) -> str:
        lines = ["| code | HTTP status | where | meaning |", "|---|---|---|---|"]
        for code in sorted(ERRORS.values(), key=lambda c: (c.status, c.code)):
            lines.append(f"| `{code.code}` | {code.status} | {code.where} | {_cell(code.meaning)} |")
        return "\n".join(lines)

    def block_close_codes(self) -> str:
        lines = ["| close code | meaning |", "|---|---|"]
        lines += [f"| {code} | {_cell(meaning)} |" for code, meaning in CLOSE_CODES]
        return "\n".join(lines)

    def block_limits(self) -> str:
        lines = ["| limit | value | applies to |", "|---|---|---|"]
        lines += [f"| {name} | {value} | {_cell(what)} |" for name, value, what in LIMITS]
        return "\n".join(lines)

    # --- Shapes ------------------------------------------------------------------------------

    def _reachable(self, roots: list) -> list[str]:
        """Object components referenced from `roots`, in the order first met."""
        found: list[str] = []

        def walk(node) -> None:
            if isinstance(node, dict):
                ref = node.get("$ref", "")
                if ref.startswith(_REF):
                    name = ref[len(_REF) :]
                    if name not in found and "properties" in self.schemas[name]:
                        found.append(name)
                        walk(self.schemas[name])
                    elif name not in found and "oneOf" in self.schemas[name]:
                        walk(self.schemas[name])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(roots)
        return found

    def _tables(self, names: list[str]) -> str:
        lines = []
        for name in names:
            schema = self.schemas[name]
            lines += [f'<a id="{_anchor(name)}"></a>', f"#### {name}", ""]
            if schema.get("description"):
                lines += [_cell(schema["description"]), ""]
            if "not" in schema:
                together = ", ".join(f"`{f}`" for f in schema["not"]["required"])
                lines += [f"Not all of {together} in one body (`invalid`).", ""]
            lines += ["| field | type | present | meaning |", "|---|---|---|---|"]
            required = set(schema.get("required", []))
            for field, prop in schema["properties"].items():
                presence = "always" if field in required else "optional"
                lines.append(f"| `{field}` | {self._type(prop)} | {presence} | {_cell(prop.get('description', ''))} |")
            lines.append("")
        return "\n".join(lines)

    def _link(self, ref: str) -> str:
        name = ref[len(_REF) :]
        return f"[{name}](#{_anchor(name)})"

    def _success(self, content: dict) -> str:
        """A success body: a declared JSON shape, or another media type (a CSV export) by name."""
        if "application/json" in content:
            return self._type(content["application/json"]["schema"])
        return ", ".join(f"`{media}`" for media in content)

    def _type(self, prop: dict) -> str:
        text = self._bare_type(prop)
        return f"{text} or null" if prop.get("nullable") else text

    def _bare_type(self, prop: dict) -> str:
        if "$ref" in prop:
            name = prop["$ref"][len(_REF) :]
            target = self.schemas[name]
            if "enum" in target:
                return self._enum(target["enum"])
            return self._link(prop["$ref"])
        if "allOf" in prop:
            return " and ".join(self._type(p) for p in prop["allOf"])
        if "oneOf" in prop:
            # drf-spectacular writes a blank-allowed string as a oneOf of the string and "".
            branches = [p for p in prop["oneOf"] if p != _EMPTY_STRING]
            text = " or ".join(self._type(p) for p in branches)
            return text if len(branches) == len(prop["oneOf"]) else f"{text} (may be empty)"
        if "enum" in prop:
            return self._enum(prop["enum"])
        kind = prop.get("type")
        if kind == "array":
            return f"list of {self._type(prop['items'])}"
        if kind == "object":
            return (
                f"object of {self._type(prop['additionalProperties'])}" if "additionalProperties" in prop else "object"
            )
        if kind == "integer":
            low, high = prop.get("minimum"), prop.get("maximum")
            if low is not None and high is not None:
                return f"integer {low} to {high}"
            return f"integer ≥ {low}" if low is not None else "integer"
        if kind == "string" and prop.get("format") == "date-time":
            return "time"
        if kind == "string" and "maxLength" in prop:
            return f"string (≤ {prop['maxLength']} characters)"
        if kind is None and not prop:
            return "value"  # any JSON value (a compact row's, named by its frame's `columns`)
        return str(kind)  # number, boolean, string

    def _enum(self, values: list) -> str:
        if len(values) > 8:
            return "[error code](#error-codes)"
        return " \\| ".join(f"`{v}`" for v in values)


def write(path: Path | None = None) -> bool:
    """Regenerate the blocks in place; True when the file changed."""
    path = path or DOC
    text = path.read_text()
    fresh = render(text)
    if fresh != text:
        path.write_text(fresh)
    return fresh != text


def is_current(path: Path | None = None) -> bool:
    text = (path or DOC).read_text()
    return render(text) == text
