"""What the Pulumi CLI does with config before ``pulumi preview`` and ``pulumi up``, in Python.

A faithful port of the public pulumi/pulumi sources (read at commit 1b59498, August 2026), so
the offline plan and the tests hand the program exactly the config the real CLI would:

1. read ``Pulumi.yaml`` (``sdk/go/common/workspace/loaders.go`` ``LoadProjectBytes``: the
   shorthand ``key: value`` rewrite of ``RewriteShorthandConfigValues`` and the checks of
   ``Project.Validate``) and the stack file (``LoadProjectStackBytes``: keys without a
   namespace belong to the project), both with yaml.v3's rules for plain scalars;
2. merge the project's declarations into the stack's config (``pkg/workspace/config.go``
   ``mergeConfig``): every declared key is a property PATH (``config/map.go`` ``Map.Get`` /
   ``Map.Set`` with ``path=true``, ``parseKeyPath``), so ``service.memory`` is the member
   ``memory`` of the object ``<project>:service``; a default is stored as its string and then
   coerced (``config/object.go`` ``coerce``: ``"16"`` becomes 16, ``"true"`` true, ``"0123"``
   stays a string);
3. refuse missing required keys (``missingStackConfigurationKeysError``) and values of the wrong
   type (``validateStackConfigValues``), with the CLI's own wording;
4. hand the program every value as the engine does (``config/map.go`` ``Map.Decrypt``,
   ``Map.SecureKeys``): top-level values as strings, objects and arrays as Go's JSON, plus the
   keys that hold secrets.

Not ported: ESC environments (``environment:`` in a stack file is refused offline) and real
decryption (a secret's value is a placeholder, see ``BlindingDecrypter``; its type cannot be
checked). Also ``pulumi config set/rm --path`` (``cli_edit``), so tests can change a stack file
exactly as those commands would.

A library: it creates no resources and has no side effects.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

__all__ = [
    "BLINDING",
    "Base64Crypter",
    "BlindingDecrypter",
    "Ciphertext",
    "ConfigError",
    "ConfigKey",
    "ConfigMap",
    "ConfigType",
    "Decrypter",
    "ProgramConfig",
    "Project",
    "Value",
    "cli_edit",
    "coerce",
    "load_project",
    "load_yaml",
    "map_decrypt",
    "map_get",
    "map_remove",
    "map_set",
    "merge_config",
    "parse_cli_key",
    "parse_key",
    "parse_property_path",
    "program_config",
    "project_from_document",
    "property_path_str",
    "secure_keys",
    "stack_config_from_document",
    "stack_document",
    "validate_config_value",
    "validate_stack_config_values",
]


class ConfigError(Exception):
    """An error the CLI would print before running the program; the message is the CLI's."""


# --- YAML as yaml.v3 reads it ------------------------------------------------------------------
# The CLI reads both files with gopkg.in/yaml.v3 (sdk/go/common/encoding/marshal.go), which
# resolves plain scalars by YAML 1.2's rules, not PyYAML's 1.1: `off`, `yes`, `no` are strings,
# `1e3` is a number, a date stays a string (decode.go keeps timestamps as strings for `any`).

_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
_PLAIN = "tag:pulumi-port:plain"


_DECIMAL = re.compile(r"[+-]?[0-9]+")


def _go_parse_int(text: str, base: int, *, signed: bool = True) -> int | None:
    """Go's ``strconv.ParseInt(text, base, 64)`` (``ParseUint`` when not ``signed``)."""
    if base == 10 and signed:
        if not _DECIMAL.fullmatch(text):
            return None
        value = int(text)
        return value if _INT64[0] <= value <= _INT64[1] else None
    s = text
    negative = False
    if signed and s[:1] in ("+", "-"):
        negative, s = s[0] == "-", s[1:]
    if base == 0:
        base = 10
        if s[:1] == "0" and len(s) > 1:
            prefix = s[1].lower()
            if prefix in "xob":
                base, s = {"x": 16, "o": 8, "b": 2}[prefix], s[2:]
            else:
                base, s = 8, s[1:]
        if "_" in s:  # base 0 allows well-placed underscores only
            if s.startswith("_") or s.endswith("_") or "__" in s:
                return None
            s = s.replace("_", "")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    if not s or any(c not in digits for c in s.lower()):
        return None
    value = int(s, base)
    value = -value if negative else value
    if signed:
        return value if _INT64[0] <= value <= _INT64[1] else None
    return value if value <= _UINT64_MAX else None


def _go_parse_float(text: str) -> float | None:
    # Close enough to strconv.ParseFloat for config values: decimal and exponent forms.
    if not re.fullmatch(
        r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|infinity|nan)", text, re.I
    ):
        return None
    return float(text)


def _resolve_plain(text: str) -> Any:
    """The value yaml.v3 gives a plain scalar decoded into ``any`` (``resolve.go``)."""
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    if text in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"):
        return math.inf
    if text in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf
    hint = text[0]
    if hint == ".":
        parsed = _go_parse_float(text)
        return text if parsed is None else parsed
    if hint in "+-0123456789":
        plain = text.replace("_", "")
        for candidate in (_go_parse_int(plain, 0), _go_parse_int(plain, 0, signed=False)):
            if candidate is not None:
                return candidate
        if _YAML_FLOAT.match(plain):
            parsed = _go_parse_float(plain)
            if parsed is not None:
                return parsed
    return text


class _GoRules:
    """yaml.v3's scalar rules and its refusal of duplicate keys, for either PyYAML parser."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return "tag:yaml.org,2002:merge" if value == "<<" else _PLAIN
        return super().resolve(kind, value, implicit)  # type: ignore[misc]

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # type: ignore[attr-defined]
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
                line = key_node.start_mark.line + 1
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f'mapping key "{key}" already defined at line {seen[key]}',
                        key_node.start_mark,
                    )
                if isinstance(key, (str, int, float, bool)):
                    seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _GoYamlLoader(_GoRules, yaml.SafeLoader):
    """PyYAML's safe loader with yaml.v3's scalar rules and its refusal of duplicate keys."""


_GoYamlLoader.add_constructor(_PLAIN, lambda loader, node: _resolve_plain(node.value))

# The same rules over libyaml's parser, when PyYAML has it: the stack files and Pulumi.yaml
# parse several times faster (the plan reads them on every run). Only the parser differs; the
# values come from the same resolver and constructors.
_GoYamlCLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):

    class _GoYamlCLoader(_GoRules, yaml.CSafeLoader):  # type: ignore[no-redef]
        """``_GoYamlLoader``'s rules with libyaml's parser."""

    _GoYamlCLoader.add_constructor(_PLAIN, lambda loader, node: _resolve_plain(node.value))


def load_yaml(text: str) -> Any:
    """Parse YAML as the CLI does (yaml.v3's rules); ``yaml.YAMLError`` if it is not YAML."""
    if _GoYamlCLoader is not None:
        try:
            return yaml.load(text, Loader=_GoYamlCLoader)  # a CSafeLoader subclass: safe
        except yaml.YAMLError:
            pass  # the error as the pure-Python parser words it (with the offending line)
    return yaml.load(text, Loader=_GoYamlLoader)  # a SafeLoader subclass: safe


# --- Keys --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ConfigKey:
    """``config/key.go`` ``Key``: a namespace and a name, written ``namespace:name``."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}"


def parse_key(text: str) -> ConfigKey:
    """``config/key.go`` ``ParseKey``: ``ns:name``, or the old ``ns:config:name``."""
    colons = text.count(":")
    if colons == 1:
        namespace, name = text.split(":")
        return ConfigKey(namespace, name)
    if colons == 2:
        package, module, name = text.split(":")
        if module == "config" and package and name:
            return ConfigKey(package, name)
    raise ConfigError(
        f"could not parse {text} as a configuration key "
        "(configuration keys should be of the form `<namespace>:<name>`)"
    )


def _project_key(project: str, key: str) -> ConfigKey:
    """``pkg/workspace/config.go`` ``parseConfigKey``: a declared key without ``:`` is the project's."""
    return parse_key(key) if ":" in key else ConfigKey(project, key)


def parse_cli_key(key: str, path: bool, project: str) -> ConfigKey:
    """How ``pulumi config set/rm [--path] KEY`` reads KEY (``pkg/cmd/pulumi/config/io.go``
    ``parseConfigKey``): with ``--path`` only the first segment may carry a namespace."""
    if path:
        cut = min((i for i in (key.find("["), key.find(".")) if i >= 0), default=-1)
        if cut > 0:
            top = parse_cli_key(key[:cut], False, project)
            return ConfigKey(top.namespace, top.name + key[cut:])
    if ":" not in key:
        return parse_key(f"{project}:{key}")
    return parse_key(key)


# --- Property paths ----------------------------------------------------------------------------

PathElement = str | int


def parse_property_path(path: str, strict: bool = True) -> list[PathElement]:
    """``sdk/go/common/resource/properties_path.go`` ``parsePropertyPath``, with its errors.

    ``a.b`` is ``["a", "b"]``, ``a[0]`` is ``["a", 0]``, ``["a.b"]`` is ``["a.b"]``; like Go,
    any run of characters up to the next ``.`` or ``[`` is a name.
    """
    elements: list[PathElement] = []
    if path.startswith("."):
        raise ConfigError("expected property path to start with a name or index")
    while path:
        head = path[0]
        if head == ".":
            path = path[1:]
            if not path:
                raise ConfigError("expected property path to end with a name or index")
            if path[0] == "[" and strict:
                raise ConfigError("expected property name after '.'")
        elif head == "[":
            if len(path) > 1 and path[1] == '"':
                key: list[str] = []
                i = 2
                while True:
                    if i >= len(path):
                        raise ConfigError("missing closing quote in property name")
                    if path[i] == '"':
                        i += 1
                        break
                    if path[i] == "\\" and i + 1 < len(path) and path[i + 1] == '"':
                        key.append('"')
                        i += 2
                    else:
                        key.append(path[i])
                        i += 1
                if i >= len(path) or path[i] != "]":
                    raise ConfigError("missing closing bracket in property access")
                elements.append("".join(key))
                path = path[i + 1 :]
            else:
                close = path.find("]")
                if close == -1:
                    raise ConfigError("missing closing bracket in array index")
                segment = path[1:close]
                if segment == "*":
                    elements.append("*")
                else:
                    index = _go_parse_int(segment, 10)
                    if index is None:
                        raise ConfigError(
                            f'invalid array index: strconv.ParseInt: parsing "{segment}": '
                            "invalid syntax"
                        )
                    elements.append(index)
                path = path[close + 1 :]
        else:
            end = next((i for i, c in enumerate(path) if c in ".["), len(path))
            elements.append(path[:end])
            path = path[end:]
    return elements


def _requires_quote(c: str) -> bool:
    return not (c.isascii() and (c.isalnum() or c == "_"))


def property_path_str(path: Iterable[PathElement]) -> str:
    """``properties_path.go`` ``PropertyPath.String``: how the CLI's messages name a path."""
    out = []
    for i, element in enumerate(path):
        if isinstance(element, int):
            out.append(f"[{element}]")
        elif any(_requires_quote(c) for c in element):
            out.append('["' + element.replace('"', '\\"') + '"]')
        else:
            out.append(element if i == 0 else f".{element}")
    return "".join(out)


def _parse_key_path(key: ConfigKey) -> tuple[list[PathElement], ConfigKey]:
    """``config/map.go`` ``parseKeyPath``: the path in a key's name, and the key of its root."""
    path, root = _parse_key_path_cached(key)
    return list(path), root


@lru_cache(maxsize=4096)
def _parse_key_path_cached(key: ConfigKey) -> tuple[tuple[PathElement, ...], ConfigKey]:
    try:
        path = parse_property_path(key.name, strict=True)
    except ConfigError as exc:
        raise ConfigError(f"invalid config key path: {exc}") from None
    if not path:
        raise ConfigError("empty config key path")
    first = path[0]
    if not isinstance(first, str):
        raise ConfigError("first path segement of config key must be a string")  # sic
    if first == "":
        raise ConfigError("config key is empty")
    return tuple(path), ConfigKey(key.namespace, first)


# --- Config values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ciphertext:
    """``config/object.go`` ``CiphertextSecret``: an encrypted string (``secure: v1:...``)."""

    value: str


# Go's object values: None, bool, int (int64/uint64), float, str, Ciphertext, list, dict.
Obj = Any

TYPE_UNKNOWN, TYPE_STRING, TYPE_INT, TYPE_FLOAT, TYPE_BOOL = range(5)


@dataclass(frozen=True)
class Value:
    """``config/value.go`` ``Value``: a config value as the stack file stores it.

    ``text`` is the string form (JSON when ``object``), ``secure`` says it holds ciphertext,
    ``typ`` is what ``pulumi config set --type`` recorded.
    """

    text: str = ""
    secure: bool = False
    object: bool = False
    typ: int = TYPE_UNKNOWN

    @classmethod
    def plain(cls, text: str) -> Value:
        return cls(text)

    @classmethod
    def secure_text(cls, ciphertext: str) -> Value:
        return cls(ciphertext, secure=True)

    @classmethod
    def json(cls, text: str, secure: bool = False) -> Value:
        return cls(text, secure=secure, object=True)


_SECURE_RESERVED = 'maps with the single key "secure" are reserved'


def _obj_secure(obj: Obj) -> bool:
    if isinstance(obj, Ciphertext):
        return True
    if isinstance(obj, list):
        return any(_obj_secure(v) for v in obj)
    if isinstance(obj, dict):
        return any(_obj_secure(v) for v in obj.values())
    return False


def _obj_from_raw(raw: Any) -> Obj:
    """``object.go`` ``unmarshalObject``: a YAML/JSON value as an object; ``{secure: s}`` is
    ciphertext."""
    if raw is None or isinstance(raw, (bool, int, float, str)):
        return raw
    if isinstance(raw, Ciphertext):
        return raw
    if isinstance(raw, Mapping):
        if len(raw) == 1 and isinstance(raw.get("secure"), str):
            return Ciphertext(raw["secure"])
        return {_map_key(k): _obj_from_raw(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return [_obj_from_raw(v) for v in raw]
    raise ConfigError(f"unexpected wire type {type(raw).__name__}")


def _map_key(key: Any) -> str:
    # `map[any]any` keys are formatted with %v.
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


def _parse_json(text: str) -> Any:
    """``json.Decoder`` with ``UseNumber``, then ``unmarshalObject``: a number is an int64 if it
    is one, else a float64."""

    def number(literal: str) -> int | float:
        value = _go_parse_int(literal, 10)
        return float(literal) if value is None else value

    def secure(mapping: dict[str, Any]) -> Any:
        if len(mapping) == 1 and isinstance(mapping.get("secure"), str):
            return Ciphertext(mapping["secure"])
        return mapping

    try:
        return json.loads(text, parse_int=number, parse_float=number, object_hook=secure)
    except json.JSONDecodeError as exc:
        where = text[exc.pos : exc.pos + 1]
        raise ConfigError(f"invalid character '{where}' looking for beginning of value") from None


def _go_float(value: float) -> str:
    """``encoding/json``'s float64: shortest digits, exponent only below 1e-6 or from 1e21."""
    if math.isnan(value) or math.isinf(value):
        raise ConfigError(f"json: unsupported value: {_go_float_name(value)}")
    if value != 0 and (abs(value) < 1e-6 or abs(value) >= 1e21):
        text = repr(value)
        if "e" not in text:
            text = f"{value:e}"
        mantissa, exponent = text.split("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        return f"{mantissa}e{sign}{digits.zfill(2) if len(digits) > 1 else digits}"
    formatted = format(Decimal(repr(value)).normalize(), "f")
    return formatted


def _go_float_name(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


_GO_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029]')


def _go_string(text: str) -> str:
    if not _NEEDS_ESCAPE.search(text):
        return f'"{text}"'
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escape in _GO_HTML_ESCAPES.items():
        quoted = quoted.replace(char, escape)
    return quoted


def _go_json(obj: Any, reveal: Callable[[str], str] | None = None) -> str:
    """``encoding/json.Marshal`` of an object: compact, map keys sorted, HTML characters
    escaped. Ciphertext is ``{"secure": ...}``, or its plaintext when ``reveal`` is given."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return _go_float(obj)
    if isinstance(obj, str):
        return _go_string(obj)
    if isinstance(obj, Ciphertext):
        if reveal is not None:
            return _go_string(reveal(obj.value))
        return '{"secure":' + _go_string(obj.value) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(_go_json(v, reveal) for v in obj) + "]"
    if isinstance(obj, dict):
        return (
            "{" + ",".join(f"{_go_string(k)}:{_go_json(obj[k], reveal)}" for k in sorted(obj)) + "}"
        )
    raise ConfigError(f"json: unsupported type: {type(obj).__name__}")


def _marshal_value(obj: Obj) -> Value:
    """``object.go`` ``marshalValue`` / ``MarshalString``."""
    if isinstance(obj, (bool, int, float)):
        return Value(_go_json(obj))
    if isinstance(obj, str):
        return Value(obj)
    if isinstance(obj, Ciphertext):
        return Value(obj.value, secure=True)
    return Value(_go_json(obj), secure=_obj_secure(obj), object=True)


def _unmarshal_object(value: Value) -> Obj:
    """``value.go`` ``Value.unmarshalObject``."""
    if value.secure or value.object or value.typ == TYPE_UNKNOWN:
        if not value.object:
            return Ciphertext(value.text) if value.secure else value.text
        return _parse_json(value.text)
    if value.typ == TYPE_STRING:
        return value.text
    if value.typ == TYPE_INT:
        number = _go_parse_int(value.text, 10)
        if number is None:
            raise ConfigError(f'strconv.Atoi: parsing "{value.text}": invalid syntax')
        return number
    if value.typ == TYPE_BOOL:
        # strconv.ParseBool; the CLI warns and uses false for anything else.
        return value.text in ("1", "t", "T", "TRUE", "true", "True")
    if value.typ == TYPE_FLOAT:
        number = _go_parse_float(value.text)
        if number is None:
            raise ConfigError(f'strconv.ParseFloat: parsing "{value.text}": invalid syntax')
        return number
    raise ConfigError(f"unknown config value type {value.typ}")


def coerce(text: str) -> bool | int | None:
    """``object.go`` ``coerce``: ``"true"``/``"false"`` to booleans, base-10 integers not
    starting with 0 to numbers; None when the text stays a string (``"0123"``, ``"1.5"``)."""
    if text == "false":
        return False
    if text == "true":
        return True
    if len(text) > 1 and text[0] == "0":
        return None
    number = _go_parse_int(text, 10)
    if number is None:
        number = _go_parse_int(text, 10, signed=False)
    return number


def _coerce_object(value: Value) -> Obj:
    """``value.go`` ``Value.coerceObject``: untyped plain strings become booleans or numbers."""
    if value.secure or value.object or value.typ != TYPE_UNKNOWN:
        return _unmarshal_object(value)
    coerced = coerce(value.text)
    return _unmarshal_object(value) if coerced is None else coerced


def value_from_yaml(raw: Any) -> Value:
    """``value.go`` ``Value.UnmarshalYAML``: a value as a stack file holds it. A YAML null is an
    empty string (yaml.v3 never calls the unmarshaler for null)."""
    if raw is None:
        return Value()
    return _marshal_value(_obj_from_raw(raw))


def value_to_yaml(value: Value) -> Any:
    """``value.go`` ``Value.MarshalYAML``: how the CLI writes a value into a stack file."""

    def plain(obj: Obj) -> Any:
        if isinstance(obj, Ciphertext):
            return {"secure": obj.value}
        if isinstance(obj, list):
            return [plain(v) for v in obj]
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        return obj

    return plain(_unmarshal_object(value))


# --- Object paths: get, set, delete ------------------------------------------------------------


def _obj_get(obj: Obj, path: list[PathElement]) -> tuple[Obj, bool]:
    """``object.go`` ``object.Get``."""
    for element in path:
        if isinstance(obj, list):
            if not isinstance(element, int) or not 0 <= element < len(obj):
                return None, False
            obj = obj[element]
        elif isinstance(obj, dict):
            if not isinstance(element, str) or element not in obj:
                return None, False
            obj = obj[element]
        else:
            return None, False
    return obj, True


def _new_container(accessor: PathElement) -> Obj:
    # Go makes an array of accessor+1 empty elements for an index.
    return [None] * (accessor + 1) if isinstance(accessor, int) else {}


def _obj_set(obj: Obj, prefix: list[PathElement], path: list[PathElement], new: Obj) -> Obj:
    """``object.go`` ``object.Set``: returns the receiver with ``new`` at ``path``."""
    if not path:
        return new
    if obj is None:
        obj = _new_container(path[0])
    elif not isinstance(obj, (list, dict)):
        if len(prefix) == 1:
            # COMPAT: a scalar at the top is replaced by a container, not refused.
            obj = _new_container(path[0])
        else:
            kind = "an array" if isinstance(path[0], int) else "a map"
            raise ConfigError(f"{property_path_str(prefix)}: expected {kind}")
    prefix = [*prefix, path[0]]
    if isinstance(obj, list):
        index = path[0]
        if not isinstance(index, int):
            raise ConfigError(f"{property_path_str(prefix)}: key for an array must be an int")
        if index < 0 or index > len(obj):
            raise ConfigError(f"{property_path_str(prefix)}: array index out of range")
        if index == len(obj):
            obj.append(None)
        obj[index] = _obj_set(obj[index], prefix, path[1:], new)
        return obj
    key = path[0]
    if not isinstance(key, str):
        raise ConfigError(f"{property_path_str(prefix)}: key for a map must be a string")
    if len(path) == 1 and not obj and key == "secure" and isinstance(new, str):
        raise ConfigError(_SECURE_RESERVED)
    obj[key] = _obj_set(obj.get(key), prefix, path[1:], new)
    return obj


def _obj_delete(obj: Obj, prefix: list[PathElement], path: list[PathElement]) -> None:
    """``object.go`` ``object.Delete``."""
    if not path:
        return
    prefix = [*prefix, path[0]]
    if isinstance(obj, list):
        index = path[0]
        if not isinstance(index, int) or not 0 <= index < len(obj):
            return
        if len(path) == 1:
            del obj[index]
            return
        _obj_delete(obj[index], prefix, path[1:])
    elif isinstance(obj, dict):
        key = path[0]
        if not isinstance(key, str):
            return
        if len(path) == 1:
            others = [k for k in obj if k != key]
            if len(obj) == 2 and others == ["secure"] and isinstance(obj["secure"], str):
                raise ConfigError(f"{property_path_str(prefix)}: {_SECURE_RESERVED}")
            obj.pop(key, None)
            return
        if key in obj:
            _obj_delete(obj[key], prefix, path[1:])


# --- The config map ----------------------------------------------------------------------------

ConfigMap = dict[ConfigKey, Value]


def map_get(config: ConfigMap, key: ConfigKey, path: bool) -> tuple[Value, bool]:
    """``config/map.go`` ``Map.Get``: the value at ``key``, read as a property path if ``path``."""
    if not path:
        return (config[key], True) if key in config else (Value(), False)
    elements, root_key = _parse_key_path(key)
    root = config.get(root_key)
    if len(elements) == 1:
        return (root, True) if root is not None else (Value(), False)
    obj, found = _obj_get(_unmarshal_object(root or Value()), elements[1:])
    if not found:
        return Value(), False
    return _marshal_value(obj), True


def map_set(config: ConfigMap, key: ConfigKey, value: Value, path: bool) -> None:
    """``config/map.go`` ``Map.Set``: inside an object, an untyped string is coerced."""
    if not path:
        config[key] = value
        return
    elements, root_key = _parse_key_path(key)
    new = None
    if len(elements) > 1 or value.typ != TYPE_UNKNOWN:
        new = _coerce_object(value)
    if len(elements) == 1:
        config[root_key] = value
        return
    root = config.get(root_key)
    obj = _unmarshal_object(root) if root is not None else _new_container(elements[1])
    obj = _obj_set(obj, elements[:1], elements[1:], new)
    config[root_key] = _marshal_value(obj)


def map_remove(config: ConfigMap, key: ConfigKey, path: bool) -> None:
    """``config/map.go`` ``Map.Remove``."""
    if not path:
        config.pop(key, None)
        return
    elements, root_key = _parse_key_path(key)
    if len(elements) == 1:
        config.pop(root_key, None)
        return
    root = config.get(root_key)
    if root is None:
        return
    obj = _unmarshal_object(root)
    _obj_delete(obj, elements[1:], elements[1:])
    config[root_key] = _marshal_value(obj)


def secure_keys(config: ConfigMap) -> list[ConfigKey]:
    """``config/map.go`` ``Map.SecureKeys``: keys whose value holds ciphertext anywhere."""
    return sorted(k for k, v in config.items() if v.secure)


class Decrypter(Protocol):
    """``config/crypt.go`` ``Decrypter``; ``reveals`` says whether it yields real plaintext."""

    reveals: bool

    def decrypt(self, ciphertext: str) -> str: ...


@dataclass(frozen=True)
class BlindingDecrypter:
    """``config/crypt.go`` ``NewBlindingDecrypter``: every secret reads as ``placeholder``.

    What the offline plan uses: without the stack's secrets provider nothing can be decrypted.
    """

    placeholder: str = "[secret]"
    reveals: bool = False

    def decrypt(self, ciphertext: str) -> str:
        return self.placeholder


BLINDING = BlindingDecrypter()


class Base64Crypter:
    """``config/crypt.go`` ``Base64Crypter``: "encrypts" by base64, for Pulumi's own tests."""

    reveals = True

    def decrypt(self, ciphertext: str) -> str:
        return base64.b64decode(ciphertext).decode()

    def encrypt(self, plaintext: str) -> str:
        return base64.b64encode(plaintext.encode()).decode()


def _decrypted_text(value: Value, decrypter: Decrypter) -> str:
    """``value.go`` ``Value.Value`` with a real decrypter: plaintext strings as they are,
    anything else as JSON with every secret decrypted (``plaintext.go`` ``marshalText``)."""
    obj = _unmarshal_object(value)
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Ciphertext):
        return decrypter.decrypt(obj.value)
    return _go_json(obj, reveal=decrypter.decrypt)


def map_decrypt(config: ConfigMap, decrypter: Decrypter) -> dict[ConfigKey, str]:
    """``config/map.go`` ``Map.Decrypt``: what the engine hands the program for each key."""
    return {k: _decrypted_text(v, decrypter) for k, v in config.items()}


# --- Project declarations ----------------------------------------------------------------------

_MISSING: Any = object()
_TYPE_NAMES = ("string", "integer", "boolean", "array", "object")


@dataclass(frozen=True)
class ItemsType:
    """``workspace/project.go`` ``ProjectConfigItemsType``."""

    type: str
    items: ItemsType | None = None


@dataclass(frozen=True)
class ConfigType:
    """``workspace/project.go`` ``ProjectConfigType``: one entry of ``Pulumi.yaml``'s ``config``."""

    type: str | None = None
    description: str = ""
    items: ItemsType | None = None
    default: Any = _MISSING
    value: Any = _MISSING
    secret: bool = False

    @property
    def has_default(self) -> bool:
        # Go tests `Default != nil`: `default: null` is no default.
        return self.default is not _MISSING and self.default is not None

    @property
    def has_value(self) -> bool:
        return self.value is not _MISSING and self.value is not None


@dataclass(frozen=True)
class Project:
    """The parts of ``Pulumi.yaml`` the config merge reads: its name and ``config`` block."""

    name: str
    config: Mapping[str, ConfigType] = field(default_factory=dict)


def _items_type(raw: Any, where: str) -> ItemsType | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
        raise ConfigError(f"{where}: items must be a mapping with a `type`")
    return ItemsType(raw["type"], _items_type(raw.get("items"), where))


def _is_primitive(value: Any) -> bool:
    """``isPrimitiveValue``: a Go string, int or bool (not a float, not an int64 overflow)."""
    if isinstance(value, (bool, str)):
        return True
    return isinstance(value, int) and _INT64[0] <= value <= _INT64[1]


def project_from_document(document: Any, source: str = "Pulumi.yaml") -> Project:
    """A project from the parsed ``Pulumi.yaml`` (``LoadProjectBytes``): shorthand values
    rewritten (``RewriteShorthandConfigValues``), then ``Project.Validate``'s checks."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"could not validate '{source}': project must be a mapping")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"could not validate '{source}': project is missing a non-empty string 'name' attribute"
        )
    raw_config = document.get("config")
    if raw_config is None or isinstance(raw_config, str):  # a string is the old stackConfigDir
        raw_config = {}
    if not isinstance(raw_config, Mapping):
        raise ConfigError(f"could not validate '{source}': #/config: expected object")
    declarations: dict[str, ConfigType] = {}
    for key, entry in raw_config.items():
        key = _map_key(key)
        namespaced = ":" not in key or key.startswith(f"{name}:")
        if _is_primitive(entry) or isinstance(entry, list):
            entry = {"default": entry} if namespaced else {"value": entry}
        if not isinstance(entry, Mapping):
            raise ConfigError(f"could not validate '{source}': #/config/{key}: invalid entry")
        unknown = set(entry) - {"type", "description", "items", "default", "value", "secret"}
        if unknown:
            raise ConfigError(
                f"could not validate '{source}': #/config/{key}: '{sorted(unknown)[0]}' not allowed"
            )
        type_name = entry.get("type")
        if type_name is not None and type_name not in _TYPE_NAMES:
            raise ConfigError(
                f"could not validate '{source}': #/config/{key}/type: value must be one of "
                + ", ".join(f'"{t}"' for t in _TYPE_NAMES)
            )
        declarations[key] = ConfigType(
            type=type_name,
            description=str(entry.get("description") or ""),
            items=_items_type(entry.get("items"), f"{source}: config {key}"),
            default=entry.get("default", _MISSING),
            value=entry.get("value", _MISSING),
            secret=bool(entry.get("secret", False)),
        )
    project = Project(name=name, config=declarations)
    _validate_project(project, source)
    return project


def _validate_project(project: Project, source: str) -> None:
    """``workspace/project.go`` ``Project.Validate``, as the CLI runs it on every load."""
    for key, decl in project.config.items():
        where = f"could not unmarshal '{source}': "
        if decl.has_default and decl.has_value:
            raise ConfigError(
                f"{where}project config '{key}' cannot have both a 'default' and 'value' attribute"
            )
        if ":" not in key or key.startswith(f"{project.name}:"):
            if decl.type == "array" and decl.items is None:
                raise ConfigError(
                    f"{where}The configuration key '{key}' declares an array but does not "
                    "specify the underlying type via the 'items' attribute"
                )
            if (
                decl.type is not None
                and decl.has_default
                and not validate_config_value(decl.type, decl.items, decl.default)
            ):
                raise ConfigError(
                    f"{where}The default value specified for configuration key '{key}' is "
                    f"not of the expected type '{infer_full_type_name(decl.type, decl.items)}'"
                )
        else:
            if decl.type is not None:
                raise ConfigError(
                    f"{where}Configuration key '{key}' is not namespaced by the project and "
                    "should not define a type"
                )
            if decl.has_default:
                raise ConfigError(
                    f"{where}Configuration key '{key}' is not namespaced by the project and "
                    "should not define a default value. Did you mean to use the 'value' "
                    "attribute instead of 'default'?"
                )
            if not decl.has_value:
                raise ConfigError(
                    f"{where}Configuration key '{key}' is namespaced and must provide an "
                    "attribute 'value'"
                )


@lru_cache(maxsize=16)
def _load_project_cached(path: str, mtime_ns: int, size: int) -> Project:
    text = Path(path).read_text(encoding="utf-8-sig")  # readFileStripUTF8BOM
    try:
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"could not unmarshal '{path}': {exc}") from None
    return project_from_document(document, path)


def load_project(path: Path) -> Project:
    """Read ``Pulumi.yaml`` as the CLI does; ``ConfigError`` with the CLI's message if invalid."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"could not read '{path}': {exc.strerror}") from None
    return _load_project_cached(str(path), stat.st_mtime_ns, stat.st_size)


# --- The stack's config ------------------------------------------------------------------------


def stack_config_from_document(raw: Mapping[str, Any] | None, project: str) -> ConfigMap:
    """A stack file's ``config:`` block as the CLI holds it (``LoadProjectStackBytes``): keys
    without a namespace are the project's (``stackConfigNamespacedWithProject``)."""
    config: ConfigMap = {}
    for key, value in (raw or {}).items():
        text = _map_key(key)
        full = text if ":" in text else f"{project}:{text}"
        config[parse_key(full)] = value_from_yaml(value)
    return config


def stack_document(config: ConfigMap) -> dict[str, Any]:
    """The ``config:`` block the CLI would write for ``config`` (``Map.MarshalYAML``)."""
    return {str(k): value_to_yaml(config[k]) for k in sorted(config)}


def _cli_value(value: Any) -> Value:
    """The value ``pulumi config set KEY TEXT`` stores for a Python value: scalars as the text
    typed on the command line; a list or mapping as the stack file would hold it in YAML."""
    if isinstance(value, bool):
        return Value("true" if value else "false")
    if isinstance(value, (int, float, str)):
        return Value(str(value))
    return value_from_yaml(value)


def cli_edit(config: ConfigMap, edits: Mapping[str, Any], project: str) -> None:
    """Apply ``pulumi config set --path KEY VALUE`` (``rm --path KEY`` for None) per edit, in
    order, as the CLI's ``configSetCmd.Run`` does to the stack file. A key without a namespace
    is the project's (``service.cpu``); other namespaces are given in full
    (``app-secrets:API_KEY``)."""
    for key, value in edits.items():
        parsed = parse_cli_key(key, True, project)
        try:
            if value is None:
                map_remove(config, parsed, True)
            else:
                map_set(config, parsed, _cli_value(value), True)
        except ConfigError as exc:
            raise ConfigError(f"could not set config: {exc}") from None


# --- Type checks -------------------------------------------------------------------------------


def infer_full_type_name(type_name: str, items: ItemsType | None) -> str:
    """``workspace/project.go`` ``InferFullTypeName``: ``array<string>`` and the like."""
    if items is not None:
        return f"array<{infer_full_type_name(items.type, items.items)}>"
    return type_name


def validate_config_value(type_name: str, items: ItemsType | None, value: Any) -> bool:
    """``workspace/project.go`` ``ValidateConfigValue``. ``value`` is a string, or what Go's
    ``json.Unmarshal`` gives (every number a float), or a default as YAML gave it."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        # `value.(int)`: yaml.v3 gives an int beyond int64 as a uint64, which is no Go int.
        if type(value) is int and _INT64[0] <= value <= _INT64[1]:
            return True
        # `f == math.Trunc(f)`: true for an infinity too (Python's trunc would raise), not NaN.
        if type(value) is float and (math.isinf(value) or value.is_integer()):
            return True
        if isinstance(value, str):
            return _go_parse_int(value, 10) is not None  # strconv.Atoi
        return False
    if type_name == "boolean":
        return value in ("true", "false") if isinstance(value, str) else isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items.type, items.items, item) for item in value)


def _go_json_unmarshal(text: str) -> Any:
    """``json.Unmarshal`` into ``any``: every number a float64, secrets as their maps."""
    try:
        return json.loads(text, parse_int=float)
    except json.JSONDecodeError as exc:
        where = text[exc.pos : exc.pos + 1]
        raise ConfigError(f"invalid character '{where}' looking for beginning of value") from None


def _validate_stack_config_value(
    stack: str, key: str, decl: ConfigType, stack_value: Value, decrypted: str
) -> None:
    """``pkg/workspace/config.go`` ``validateStackConfigValue``."""
    if decl.secret and not stack_value.secure:
        raise ConfigError(
            f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret"
        )
    content: Any = _go_json_unmarshal(decrypted) if stack_value.object else decrypted
    if not validate_config_value(decl.type or "", decl.items, content):
        type_name = infer_full_type_name(decl.type or "", decl.items)
        raise ConfigError(
            f"Stack '{stack}' with configuration key '{key}' must be of type '{type_name}'"
        )


def validate_stack_config_values(
    stack: str, project: Project, config: ConfigMap, decrypter: Decrypter | None
) -> None:
    """``pkg/workspace/config.go`` ``validateStackConfigValues``: every typed declaration
    against the stack's value at that PATH (a nested scalar is checked in its string form).

    One departure, said where it happens: a value holding ciphertext is checked for its type
    only when the decrypter yields real plaintext (offline, none does).
    """
    refused = stack_config_value_errors(stack, project, config, decrypter)
    if refused:
        raise refused[0].error  # the CLI returns at its first refusal


@dataclass(frozen=True)
class RefusedValue:
    """One value ``validateStackConfigValues`` refuses: the declared key, the CLI's error, the
    value as text (None when it is a secret) and the declaration."""

    key: str
    error: ConfigError
    text: str | None
    declaration: ConfigType


def stack_config_value_errors(
    stack: str, project: Project, config: ConfigMap, decrypter: Decrypter | None
) -> list[RefusedValue]:
    """Every value ``validate_stack_config_values`` refuses, not only the first the CLI stops
    at: the offline plan reports them all at once. Same checks, in the same (sorted) order."""
    refused: list[RefusedValue] = []
    if decrypter is None:
        return refused
    map_decrypt(config, decrypter)  # the CLI decrypts everything first; errors surface here
    for declared in sorted(project.config):
        decl = project.config[declared]
        key = _project_key(project.name, declared)
        try:
            stack_value, _ = map_get(config, key, True)
        except ConfigError as exc:
            raise ConfigError(f"getting stack config value for key '{key}': {exc}") from None
        if decl.type is None:
            continue
        if stack_value.secure and not decrypter.reveals:
            # Offline the plaintext is unknown: its type cannot be checked (and being secure, it
            # passes the secret check).
            continue
        decrypted = _decrypted_text(stack_value, decrypter)
        try:
            _validate_stack_config_value(stack, declared, decl, stack_value, decrypted)
        except ConfigError as exc:
            text = None if stack_value.secure else decrypted
            refused.append(RefusedValue(declared, exc, text, decl))
    return refused


def _format_missing_keys(keys: list[str]) -> str:
    """``pkg/workspace/config.go`` ``formatMissingKeys``."""
    if len(keys) == 1:
        return f"'{keys[0]}'"
    keys = sorted(keys)
    return ", ".join(f"'{k}'" for k in keys[:-1]) + f" and '{keys[-1]}'"


def _create_config_value(raw: Any) -> Value:
    """``pkg/workspace/config.go`` ``createConfigValue``: a default as its string (``%v``),
    or as JSON for anything else (arrays, maps, floats)."""
    if _is_primitive(raw):
        if isinstance(raw, bool):
            return Value("true" if raw else "false")
        return Value(str(raw))
    return Value.json(_go_json(_obj_from_raw(raw)))


def merge_config(
    stack: str,
    project: Project,
    config: ConfigMap,
    decrypter: Decrypter | None,
    validate: bool = True,
) -> None:
    """``pkg/workspace/config.go`` ``mergeConfig`` (without ESC environments): set each
    declared key the stack lacks to its default (or value), read and written as a PATH; then,
    if ``validate``, refuse missing required keys and values of the wrong type."""
    missing: list[str] = []
    for declared in sorted(project.config):
        decl = project.config[declared]
        key = _project_key(project.name, declared)
        try:
            _, found = map_get(config, key, True)
        except ConfigError as exc:
            raise ConfigError(f"getting stack config value for key '{key}': {exc}") from None
        if not found and not decl.has_value and not decl.has_default:
            if key.namespace == project.name:
                missing.append(declared)
            continue
        if not found:
            raw = decl.default if decl.has_default else decl.value
            map_set(config, key, _create_config_value(raw), True)
    if validate and missing:
        noun = "value" if len(missing) == 1 else "values"
        raise ConfigError(
            f"Stack '{stack}' is missing configuration {noun} {_format_missing_keys(missing)}"
        )
    if validate:
        validate_stack_config_values(stack, project, config, decrypter)


def refused_values(
    project: Project,
    stack: str,
    stack_config: Mapping[str, Any] | None,
    *,
    decrypter: Decrypter = BLINDING,
) -> list[RefusedValue]:
    """Every value of ``stack_config`` the CLI's check before ``pulumi up`` refuses (after the
    merge of the declared defaults), where ``program_config`` stops at the first."""
    config = stack_config_from_document(stack_config, project.name)
    merge_config(stack, project, config, decrypter, validate=False)
    return stack_config_value_errors(stack, project, config, decrypter)


# --- What the program receives -----------------------------------------------------------------


@dataclass(frozen=True)
class ProgramConfig:
    """The config the engine hands the program (``pulumi.runtime.set_all_config`` takes it)."""

    config: dict[str, str]
    """Every key, its value as a string: objects and arrays as JSON."""
    secret_keys: frozenset[str]
    """Keys whose values hold secrets (``Map.SecureKeys``)."""


def program_config(
    project: Project,
    stack: str,
    stack_config: Mapping[str, Any] | None,
    *,
    edits: Mapping[str, Any] | None = None,
    decrypter: Decrypter = BLINDING,
    validate: bool = True,
) -> ProgramConfig:
    """The one way a stack file becomes the program's config, as before ``pulumi up``.

    ``stack_config`` is the stack file's ``config:`` block as YAML holds it. ``edits`` are
    applied first, as ``pulumi config set --path`` / ``rm --path`` (None) would write them into
    the stack file (``cli_edit``). Then the project's declarations are merged and checked
    (``merge_config``); ``ConfigError`` carries the CLI's message. ``validate=False`` is
    ``pulumi up --skip-config-validation`` (``ApplyProjectConfig``): defaults merged, nothing
    checked.
    """
    config = stack_config_from_document(stack_config, project.name)
    if edits:
        cli_edit(config, edits, project.name)
    merge_config(stack, project, config, decrypter, validate)
    decrypted = map_decrypt(config, decrypter)
    return ProgramConfig(
        config={str(k): decrypted[k] for k in sorted(config)},
        secret_keys=frozenset(str(k) for k in secure_keys(config)),
    )
