"""The port of the Pulumi CLI's config handling (plan/engine_config.py), against Pulumi's own cases.

Each ``test_Test...`` mirrors the Go test of the same name in the public pulumi/pulumi sources
(read at commit 1b59498): ``sdk/go/common/resource/config/map_test.go`` (paths, bracketed keys,
arrays, coercion, secrets), ``pkg/workspace/config_test.go`` (type validation) and
``pkg/workspace/config_project_test.go`` (project defaults merged into a stack), with the same
inputs and the same expected results. Go's ``NewValue``/``NewObjectValue``/... are ``Value``
here, with the same fields. The tests after them cover what this project relies on: declared
defaults coerced inside objects, yaml.v3's scalars, Go's JSON, and the CLI's wording.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from plan.engine_config import (
    BLINDING,
    Base64Crypter,
    ConfigError,
    ConfigKey,
    ConfigType,
    ItemsType,
    Project,
    Value,
    coerce,
    load_yaml,
    map_decrypt,
    map_get,
    map_remove,
    map_set,
    merge_config,
    parse_cli_key,
    parse_key,
    parse_property_path,
    program_config,
    project_from_document,
    secure_keys,
    stack_config_from_document,
    stack_document,
    validate_stack_config_values,
    value_from_yaml,
    value_to_yaml,
)
from plan.engine_config import _go_json as go_json
from plan.engine_config import _validate_stack_config_value as validate_stack_config_value

K = ConfigKey
V = Value.plain
SECURE = Value.secure_text
OBJ = Value.json


def SECURE_OBJ(text: str) -> Value:  # noqa: N802 (Go's NewSecureObjectValue)
    return Value.json(text, secure=True)


class PanicCrypter:
    """``config.NewPanicCrypter``: any decryption fails the test."""

    reveals = True

    def decrypt(self, ciphertext: str) -> str:
        raise AssertionError(f"decrypt called for {ciphertext}")


class ErrorCrypter:
    """``config.NewErrorCrypter``."""

    reveals = True

    def __init__(self, message: str) -> None:
        self.message = message

    def decrypt(self, ciphertext: str) -> str:
        raise ConfigError(self.message)


# --- sdk/go/common/resource/config/map_test.go -------------------------------------------------

GET_SUCCESS: list[tuple[str, bool, dict[ConfigKey, Value], Value | None]] = [
    ("my:testKey", False, {K("my", "testKey"): V("testValue")}, V("testValue")),
    ("my:testKey", False, {K("my", "testKey"): SECURE("secureValue")}, SECURE("secureValue")),
    ("my:test.Key", False, {K("my", "test.Key"): V("testValue")}, V("testValue")),
    ("my:0", True, {K("my", "0"): V("testValue")}, V("testValue")),
    ('my:["testKey"]', True, {K("my", "testKey"): V("testValue")}, V("testValue")),
    ("my:outer.inner", True, {K("my", "outer"): OBJ('{"inner":"value"}')}, V("value")),
    (
        "my:outer.inner",
        True,
        {K("my", "outer"): OBJ('{"inner":{"secure":"securevalue"}}')},
        SECURE("securevalue"),
    ),
    ("my:outer.inner", True, {K("my", "outer"): OBJ('{"inner":true}')}, V("true")),
    ("my:outer.inner", True, {K("my", "outer"): OBJ('{"inner":false}')}, V("false")),
    ("my:outer.inner", True, {K("my", "outer"): OBJ('{"inner":100}')}, V("100")),
    ("my:outer.inner", True, {K("my", "outer"): OBJ('{"inner":-2}')}, V("-2")),
    (
        "my:outer.inner",
        True,
        {K("my", "outer"): OBJ('{"inner":{"nested":"foo"}}')},
        OBJ('{"nested":"foo"}'),
    ),
    (
        "my:outer.inner",
        True,
        {K("my", "outer"): OBJ('{"inner":{"nested":{"secure":"securevalue"}}}')},
        SECURE_OBJ('{"nested":{"secure":"securevalue"}}'),
    ),
    (
        "my:outer.inner",
        True,
        {K("my", "outer"): OBJ('{"inner":{"nested":{"a":"b","secure":"val"}}}')},
        OBJ('{"nested":{"a":"b","secure":"val"}}'),
    ),
    ("my:testKey", True, {K("my", "testKey"): OBJ('["a"]')}, OBJ('["a"]')),
    ("my:names[0]", True, {K("my", "names"): OBJ('["a","b","c"]')}, V("a")),
    ("my:names[1]", True, {K("my", "names"): OBJ('["a","b","c"]')}, V("b")),
    ("my:names[2]", True, {K("my", "names"): OBJ('["a","b","c"]')}, V("c")),
    ("my:names[3]", True, {K("my", "names"): OBJ('["a","b","c"]')}, None),
    ("my:outer.inner.nested", True, {K("my", "outer"): OBJ('{"inner":"hi"}')}, None),
    (
        "my:parent.nested",
        True,
        {K("my", "parent"): OBJ('{"nested":12321123131}')},
        V("12321123131"),
    ),
    ("my:parent.nested", True, {K("my", "parent"): OBJ('{"nested":4.2}')}, V("4.2")),
]


@pytest.mark.parametrize(
    ("key", "path", "config", "expected"), GET_SUCCESS, ids=[c[0] for c in GET_SUCCESS]
)
def test_TestGetSuccess(key, path, config, expected):  # noqa: N802
    value, found = map_get(config, parse_key(key), path)
    if expected is None:
        assert (value, found) == (Value(), False)
    else:
        assert (value, found) == (expected, True)


def test_TestGetFail():  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        map_get({}, parse_key('my:["foo'), True)
    assert str(raised.value) == "invalid config key path: missing closing quote in property name"


REMOVE_SUCCESS: list[tuple[str, bool, dict[ConfigKey, Value], dict[ConfigKey, Value]]] = [
    ("my:testKey", False, {}, {}),
    (
        "my:testKey",
        False,
        {K("my", "anotherTestKey"): V("testValue")},
        {K("my", "anotherTestKey"): V("testValue")},
    ),
    ("my:testKey", False, {K("my", "testKey"): V("testValue")}, {}),
    (
        "my:anotherTestKey",
        False,
        {K("my", "testKey"): V("testValue"), K("my", "anotherTestKey"): V("anotherTestValue")},
        {K("my", "testKey"): V("testValue")},
    ),
    ("my:testKey", False, {K("my", "testKey"): SECURE("secureValue")}, {}),
    ("my:outer", True, {K("my", "outer"): OBJ('{"inner":"value"}')}, {}),
    (
        "my:outer.inner",
        True,
        {K("my", "outer"): OBJ('{"inner":"value"}')},
        {K("my", "outer"): OBJ("{}")},
    ),
    (
        "my:names[0]",
        True,
        {K("my", "names"): OBJ('["a","b","c"]')},
        {K("my", "names"): OBJ('["b","c"]')},
    ),
    (
        "my:names[1]",
        True,
        {K("my", "names"): OBJ('["a","b","c"]')},
        {K("my", "names"): OBJ('["a","c"]')},
    ),
    (
        "my:names[2]",
        True,
        {K("my", "names"): OBJ('["a","b","c"]')},
        {K("my", "names"): OBJ('["a","b"]')},
    ),
    (
        "my:names[3]",
        True,
        {K("my", "names"): OBJ('["a","b","c"]')},
        {K("my", "names"): OBJ('["a","b","c"]')},
    ),
    (
        "my:outer.inner.nested",
        True,
        {K("my", "outer"): OBJ('{"inner":{"nested": "value"}}')},
        {K("my", "outer"): OBJ('{"inner":{}}')},
    ),
    (
        "my:outer[0].nested",
        True,
        {K("my", "outer"): OBJ('[{"nested": "value"}]')},
        {K("my", "outer"): OBJ("[{}]")},
    ),
]


@pytest.mark.parametrize(
    ("key", "path", "config", "expected"), REMOVE_SUCCESS, ids=[c[0] for c in REMOVE_SUCCESS]
)
def test_TestRemoveSuccess(key, path, config, expected):  # noqa: N802
    config = dict(config)
    map_remove(config, parse_key(key), path)
    assert config == expected


@pytest.mark.parametrize(
    ("key", "config", "error"),
    [
        ('my:["foo', {}, "invalid config key path: missing closing quote in property name"),
        (
            "my:foo.bar",
            {K("my", "foo"): OBJ('{"bar":"baz","secure":"myvalue"}')},
            'bar.bar: maps with the single key "secure" are reserved',
        ),
    ],
)
def test_TestRemoveFail(key, config, error):  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        map_remove(dict(config), parse_key(key), True)
    assert str(raised.value) == error


SET_SUCCESS: list[tuple[str, Value, bool, dict[ConfigKey, Value], dict[ConfigKey, Value]]] = [
    ("my:testKey", V("testValue"), False, {}, {K("my", "testKey"): V("testValue")}),
    (
        "my:anotherTestKey",
        V("anotherTestValue"),
        False,
        {K("my", "testKey"): V("testValue")},
        {K("my", "testKey"): V("testValue"), K("my", "anotherTestKey"): V("anotherTestValue")},
    ),
    ("my:0", V("testValue"), False, {}, {K("my", "0"): V("testValue")}),
    ("my:true", V("testValue"), False, {}, {K("my", "true"): V("testValue")}),
    ("my:test.Key", V("testValue"), False, {}, {K("my", "test.Key"): V("testValue")}),
    ("my:testKey", V("testValue"), True, {}, {K("my", "testKey"): V("testValue")}),
    ("my:0", V("testValue"), True, {}, {K("my", "0"): V("testValue")}),
    ("my:true", V("testValue"), True, {}, {K("my", "true"): V("testValue")}),
    ('my:["0"]', V("testValue"), True, {}, {K("my", "0"): V("testValue")}),
    ('my:["true"]', V("testValue"), True, {}, {K("my", "true"): V("testValue")}),
    ('my:["test.Key"]', V("testValue"), True, {}, {K("my", "test.Key"): V("testValue")}),
    (
        'my:nested["test.Key"]',
        V("value"),
        True,
        {},
        {K("my", "nested"): OBJ('{"test.Key":"value"}')},
    ),
    ("my:outer.inner", V("value"), True, {}, {K("my", "outer"): OBJ('{"inner":"value"}')}),
    (
        "my:outer.inner",
        V("value"),
        True,
        {K("my", "outer"): V("value")},
        {K("my", "outer"): OBJ('{"inner":"value"}')},
    ),
    (
        "my:outer.inner",
        V("value"),
        True,
        {K("my", "outer"): SECURE("securevalue")},
        {K("my", "outer"): OBJ('{"inner":"value"}')},
    ),
    ("my:outer.inner", V("true"), True, {}, {K("my", "outer"): OBJ('{"inner":true}')}),
    ("my:outer.inner", V("false"), True, {}, {K("my", "outer"): OBJ('{"inner":false}')}),
    ("my:outer.inner", V("10"), True, {}, {K("my", "outer"): OBJ('{"inner":10}')}),
    ("my:outer.inner", V("0"), True, {}, {K("my", "outer"): OBJ('{"inner":0}')}),
    ("my:outer.inner", V("-1"), True, {}, {K("my", "outer"): OBJ('{"inner":-1}')}),
    ("my:outer.inner", V("00"), True, {}, {K("my", "outer"): OBJ('{"inner":"00"}')}),
    ("my:outer.inner", V("01"), True, {}, {K("my", "outer"): OBJ('{"inner":"01"}')}),
    ("my:outer.inner", V("0123456"), True, {}, {K("my", "outer"): OBJ('{"inner":"0123456"}')}),
    (
        "my:array[0]",
        V("value"),
        True,
        {K("my", "array"): V("value")},
        {K("my", "array"): OBJ('["value"]')},
    ),
    (
        "my:array[0]",
        V("value"),
        True,
        {K("my", "array"): SECURE("value")},
        {K("my", "array"): OBJ('["value"]')},
    ),
    (
        "my:outer.inner",
        V("value"),
        True,
        {K("my", "outer"): OBJ('{"existing":"existingValue"}')},
        {K("my", "outer"): OBJ('{"existing":"existingValue","inner":"value"}')},
    ),
    (
        "my:outer.inner",
        SECURE("securevalue"),
        True,
        {},
        {K("my", "outer"): SECURE_OBJ('{"inner":{"secure":"securevalue"}}')},
    ),
    (
        "my:outer.inner.nested",
        V("value"),
        True,
        {},
        {K("my", "outer"): OBJ('{"inner":{"nested":"value"}}')},
    ),
    ("my:name[0]", V("value"), True, {}, {K("my", "name"): OBJ('["value"]')}),
    ("my:name[0][0]", V("value"), True, {}, {K("my", "name"): OBJ('[["value"]]')}),
    (
        "my:name[0]",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["value","b","c"]')},
    ),
    (
        "my:name[1]",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["a","value","c"]')},
    ),
    (
        "my:name[2]",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["a","b","value"]')},
    ),
    (
        "my:name[3]",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["a","b","c","value"]')},
    ),
    (
        "my:name[3][0]",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["a","b","c",["value"]]')},
    ),
    (
        "my:name[3][0]nested",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["a","b","c",[{"nested":"value"}]]')},
    ),
    (
        "my:name[3].foo.bar",
        V("value"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): OBJ('["a","b","c",{"foo":{"bar":"value"}}]')},
    ),
    ("my:servers[0].name", V("foo"), True, {}, {K("my", "servers"): OBJ('[{"name":"foo"}]')}),
    (
        "my:servers[0].host",
        V("example"),
        True,
        {K("my", "servers"): OBJ('[{"name":"foo"}]')},
        {K("my", "servers"): OBJ('[{"host":"example","name":"foo"}]')},
    ),
    (
        "my:name[0]",
        SECURE("securevalue"),
        True,
        {K("my", "name"): OBJ('["a","b","c"]')},
        {K("my", "name"): SECURE_OBJ('[{"secure":"securevalue"},"b","c"]')},
    ),
    ("my:testKey", V("false"), False, {}, {K("my", "testKey"): V("false")}),
    ("my:testKey", V("true"), False, {}, {K("my", "testKey"): V("true")}),
    ("my:testKey", V("10"), False, {}, {K("my", "testKey"): V("10")}),
    ("my:testKey", V("-1"), False, {}, {K("my", "testKey"): V("-1")}),
    ("my:testKey[0]", V("false"), True, {}, {K("my", "testKey"): OBJ("[false]")}),
    ("my:testKey[0]", V("true"), True, {}, {K("my", "testKey"): OBJ("[true]")}),
    ("my:testKey[0]", V("10"), True, {}, {K("my", "testKey"): OBJ("[10]")}),
    ("my:testKey[0]", V("0"), True, {}, {K("my", "testKey"): OBJ("[0]")}),
    ("my:testKey[0]", V("-1"), True, {}, {K("my", "testKey"): OBJ("[-1]")}),
    ("my:testKey[0]", V("00"), True, {}, {K("my", "testKey"): OBJ('["00"]')}),
    ("my:testKey[0]", V("01"), True, {}, {K("my", "testKey"): OBJ('["01"]')}),
    ("my:testKey[0]", V("0123456"), True, {}, {K("my", "testKey"): OBJ('["0123456"]')}),
    (
        "my:key.secure",
        V("value"),
        True,
        {K("my", "key"): OBJ('{"bar":"baz"}')},
        {K("my", "key"): OBJ('{"bar":"baz","secure":"value"}')},
    ),
    (
        "my:special.object",
        OBJ('{"foo":"bar","fizz":"buzz"}'),
        True,
        {K("my", "special"): OBJ('{"thing1":1,"thing2":2}')},
        {K("my", "special"): OBJ('{"object":{"fizz":"buzz","foo":"bar"},"thing1":1,"thing2":2}')},
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "path", "config", "expected"),
    SET_SUCCESS,
    ids=[f"{c[0]}={c[1].text}" for c in SET_SUCCESS],
)
def test_TestSetSuccess(key, value, path, config, expected):  # noqa: N802
    config = dict(config)
    map_set(config, parse_key(key), value, path)
    assert config == expected


SET_FAIL: list[tuple[str, dict[ConfigKey, Value], str]] = [
    ("my:root[", {}, "invalid config key path: missing closing bracket in array index"),
    ('my:root["nested]', {}, "invalid config key path: missing closing quote in property name"),
    (
        "my:root.array[abc]",
        {},
        'invalid config key path: invalid array index: strconv.ParseInt: parsing "abc": '
        "invalid syntax",
    ),
    ('my:[""]', {}, "config key is empty"),
    ("my:[0]", {}, "first path segement of config key must be a string"),
    ("my:name[-1]", {}, "name[-1]: array index out of range"),
    ("my:name[4]", {K("my", "name"): OBJ('["a","b","c"]')}, "name[4]: array index out of range"),
    ("my:key.secure", {}, 'maps with the single key "secure" are reserved'),
    ("my:super.nested.map.secure", {}, 'maps with the single key "secure" are reserved'),
    (
        "my:outer.inner",
        {K("my", "outer"): OBJ("[1,2,3]")},
        "outer.inner: key for an array must be an int",
    ),
    (
        "my:array[0]",
        {K("my", "array"): OBJ('{"inner":"value"}')},
        "array[0]: key for a map must be a string",
    ),
    (
        "my:outer.inner.nested",
        {K("my", "outer"): OBJ('{"inner":"value"}')},
        "outer.inner: expected a map",
    ),
    (
        "my:outer.inner[0]",
        {K("my", "outer"): OBJ('{"inner":"value"}')},
        "outer.inner: expected an array",
    ),
    ('my:root.[1]"', {}, "invalid config key path: expected property name after '.'"),
]


@pytest.mark.parametrize(("key", "config", "error"), SET_FAIL, ids=[c[0] for c in SET_FAIL])
def test_TestSetFail(key, config, error):  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        map_set(dict(config), parse_key(key), V("value"), True)
    assert str(raised.value) == error


MARSHALLING: list[tuple[dict[str, Any], dict[ConfigKey, Value]]] = [
    (
        {"my:anotherTestKey": "anotherTestValue", "my:testKey": "testValue"},
        {K("my", "testKey"): V("testValue"), K("my", "anotherTestKey"): V("anotherTestValue")},
    ),
    (
        {"my:secureTestKey": {"secure": "securevalue"}},
        {K("my", "secureTestKey"): SECURE("securevalue")},
    ),
    ({"my:arrayKey": ["a", "b", "c"]}, {K("my", "arrayKey"): OBJ('["a","b","c"]')}),
    ({"my:mapKey": {"a": "b", "c": "d"}}, {K("my", "mapKey"): OBJ('{"a":"b","c":"d"}')}),
    (
        {"my:servers": [{"port": 80, "host": "example"}]},
        {K("my", "servers"): OBJ('[{"host":"example","port":80}]')},
    ),
    ({"my:mapKey": {"nums": [1, 2, 3]}}, {K("my", "mapKey"): OBJ('{"nums":[1,2,3]}')}),
    (
        {"my:mapKey": {"a": {"secure": "securevalue"}, "c": "d"}},
        {K("my", "mapKey"): SECURE_OBJ('{"a":{"secure":"securevalue"},"c":"d"}')},
    ),
    (
        {"my:servers": [{"port": 80, "host": "example", "token": {"secure": "securevalue"}}]},
        {
            K("my", "servers"): SECURE_OBJ(
                '[{"host":"example","port":80,"token":{"secure":"securevalue"}}]'
            )
        },
    ),
    (
        {"my:mapKey": {"a": {"secure": "foo", "bar": "blah"}, "c": "d"}},
        {K("my", "mapKey"): OBJ('{"a":{"bar":"blah","secure":"foo"},"c":"d"}')},
    ),
]


@pytest.mark.parametrize(("document", "expected"), MARSHALLING, ids=[str(i) for i in range(9)])
def test_TestMarshalling(document, expected):  # noqa: N802
    # YAML: written as yaml.v3 would, read back as the CLI reads a stack file.
    import yaml

    parsed = load_yaml(yaml.safe_dump(document))
    config = {parse_key(k): value_from_yaml(v) for k, v in parsed.items()}
    assert config == expected
    # Round trip: what the CLI writes reads back the same.
    again = {parse_key(k): value_from_yaml(v) for k, v in stack_document(config).items()}
    assert again == config
    # JSON.
    from_json = {
        parse_key(k): value_from_yaml(v) for k, v in json.loads(json.dumps(document)).items()
    }
    assert from_json == expected


@pytest.mark.parametrize(
    ("config", "expected_json"),
    [
        (
            {K("my", "parent"): OBJ('{"nested":12321123131}')},
            '{"my:parent":{"nested":12321123131}}',
        ),
        (
            {K("my", "parent"): OBJ('{"nested":[12321123131]}')},
            '{"my:parent":{"nested":[12321123131]}}',
        ),
        ({K("my", "parent"): OBJ('{"nested":4.2}')}, '{"my:parent":{"nested":4.2}}'),
        (
            {K("my", "parent"): OBJ('{"nested":{"foo":4.2}}')},
            '{"my:parent":{"nested":{"foo":4.2}}}',
        ),
    ],
)
def test_TestMarshalMap(config, expected_json):  # noqa: N802
    document = stack_document(config)
    assert go_json(document) == expected_json
    assert {parse_key(k): value_from_yaml(v) for k, v in document.items()} == config


@pytest.mark.parametrize(
    ("config", "expected", "secure"),
    [
        ({K("my", "testKey"): V("testValue")}, {K("my", "testKey"): "testValue"}, []),
        (
            {K("my", "testKey"): SECURE("securevalue")},
            {K("my", "testKey"): "[secret]"},
            [K("my", "testKey")],
        ),
        (
            {K("my", "testKey"): OBJ('{"inner":"value"}')},
            {K("my", "testKey"): '{"inner":"value"}'},
            [],
        ),
        (
            {K("my", "testKey"): SECURE_OBJ('{"inner":{"secure":"securevalue"}}')},
            {K("my", "testKey"): '{"inner":"[secret]"}'},
            [K("my", "testKey")],
        ),
        (
            {
                K("my", "testKey"): SECURE_OBJ(
                    '[{"inner":{"secure":"securevalue"}},{"secure":"securevalue2"}]'
                )
            },
            {K("my", "testKey"): '[{"inner":"[secret]"},"[secret]"]'},
            [K("my", "testKey")],
        ),
    ],
)
def test_TestDecrypt(config, expected, secure):  # noqa: N802
    assert map_decrypt(config, BLINDING) == expected
    assert secure_keys(config) == secure


# --- pkg/workspace/config_test.go --------------------------------------------------------------


class TestTestValidateStackConfigValues:
    def test_No_Decrypter_Returns_Nil(self):  # noqa: N802
        validate_stack_config_values("stackA", Project("testProject"), {}, None)

    def test_Empty_Project_With_Decrypter_Returns_Nil(self):  # noqa: N802
        validate_stack_config_values("stackA", Project("testProject"), {}, PanicCrypter())

    def test_Decrypt_Error_Is_Propagated(self):  # noqa: N802
        config = {K("testProject", "someKey"): SECURE("someVal")}
        with pytest.raises(ConfigError, match="decrypt failed"):
            validate_stack_config_values(
                "stackA", Project("testProject"), config, ErrorCrypter("decrypt failed")
            )

    def test_Typed_Config_Validates(self):  # noqa: N802
        project = Project(
            "testProject",
            {
                "testInt": ConfigType(type="integer"),
                "testNested1.float": ConfigType(type="integer"),
                "testNested2.bool": ConfigType(type="boolean"),
                "testSecret": ConfigType(type="string", secret=True),
            },
        )
        config = {
            K("testProject", "testInt"): Value("1", typ=2),  # NewTypedValue("1", TypeInt)
            K("testProject", "testNested1"): OBJ('{"float":1.0}'),
            K("testProject", "testNested2"): OBJ('{"bool":true}'),
            K("testProject", "testSecret"): SECURE("dGVzdFZhbHVl"),
        }
        validate_stack_config_values("stackA", project, config, Base64Crypter())

    def test_Secret_Enforced(self):  # noqa: N802
        with pytest.raises(ConfigError, match="must be encrypted"):
            validate_stack_config_value(
                "stack1", "proj:secretKey", ConfigType(secret=True), V("plain"), "plain"
            )

    def test_Object_Unmarshal_Error(self):  # noqa: N802
        with pytest.raises(ConfigError, match="invalid character"):
            validate_stack_config_value(
                "stackX", "proj:objKey", ConfigType(), OBJ("not-a-json"), "not-a-json"
            )

    def test_Type_Mismatch(self):  # noqa: N802
        with pytest.raises(ConfigError, match="must be of type"):
            validate_stack_config_value(
                "stackX",
                "proj:typeKey",
                ConfigType(type="number"),
                V("not-a-number"),
                "not-a-number",
            )


# --- pkg/workspace/config_project_test.go ------------------------------------------------------


def merged(project_yaml: str, stack_yaml: str, decrypter: Any = None) -> dict[ConfigKey, Value]:
    """Load both files as the Go tests do, then ``ValidateStackConfigAndApplyProjectConfig``."""
    project = project_from_document(load_yaml(project_yaml))
    document = load_yaml(stack_yaml) or {}
    config = stack_config_from_document(document.get("config"), project.name)
    merge_config("dev", project, config, decrypter or PanicCrypter())
    return config


def text(config: dict[ConfigKey, Value], key: str) -> str:
    """``getConfigValue``: the raw text (``Value(config.NopDecrypter)``)."""
    return config[parse_key(key)].text


def test_TestStackConfigIsInheritedFromProjectConfig():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet\nconfig:\n  instanceSize: t3.micro\n  instanceCount: 20\n"
        "  protect: true",
        "config:\n  test:instanceSize: t4.large",
    )
    assert len(config) == 3
    assert text(config, "test:instanceSize") == "t4.large"
    assert text(config, "test:instanceCount") == "20"
    assert text(config, "test:protect") == "true"


def test_TestNamespacedConfigValuesAreInheritedCorrectly():  # noqa: N802
    config = merged(
        'name: test\nruntime: dotnet\nconfig:\n  aws:region: us-west-1\n  pulumi:disable-default-providers: ["*"]\n'
        "  instanceSize: t3.micro",
        "config:\n  test:instanceSize: t4.large",
    )
    assert len(config) == 3
    assert text(config, "test:instanceSize") == "t4.large"
    assert text(config, "aws:region") == "us-west-1"
    assert text(config, "pulumi:disable-default-providers") == '["*"]'
    assert json.loads(text(config, "pulumi:disable-default-providers")) == ["*"]


def test_TestLoadingStackConfigWithoutNamespacingTheProject():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet\nconfig:\n  aws:region: us-west-1\n  instanceSize: t3.micro",
        "config:\n  instanceSize: t4.large",
    )
    assert len(config) == 2
    assert text(config, "test:instanceSize") == "t4.large"
    assert text(config, "aws:region") == "us-west-1"


def test_TestUntypedProjectConfigValuesAreNotValidated():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet\nconfig:\n  instanceSize: t3.micro\n  aws:region: us-west-1",
        "config:\n  instanceSize: 9999\n  aws:region: 42",
    )
    assert len(config) == 2
    assert text(config, "test:instanceSize") == "9999"
    assert text(config, "aws:region") == "42"


def test_TestUntypedProjectConfigValuesWithOnlyDefaultOrOnlyValue():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet\nconfig:\n  instanceSize:\n    default: t3.micro\n"
        "  region:\n    value: us-west-1",
        "config:\n  aws:answer: 42",
    )
    assert len(config) == 3
    assert text(config, "test:instanceSize") == "t3.micro"
    assert text(config, "test:region") == "us-west-1"
    assert text(config, "aws:answer") == "42"


def test_TestUntypedStackConfigValuesDoNeedProjectDeclaration():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet\nconfig:\n  createVpc: true",
        "config:\n  instanceSize: 42",
    )
    assert len(config) == 2
    assert text(config, "test:instanceSize") == "42"
    assert text(config, "test:createVpc") == "true"


def test_TestUntypedProjectConfigObjectValuesPassedDownToStack():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet\nconfig:\n  instanceSize:\n    value:\n      hello: world\n"
        "  aws:config:\n    value:\n      region: us-west-1",
        "config:\n  aws:whatever: 42",
    )
    assert len(config) == 3
    assert text(config, "test:instanceSize") == '{"hello":"world"}'
    assert text(config, "aws:config") == '{"region":"us-west-1"}'
    assert text(config, "aws:whatever") == "42"


def test_TestStackConfigErrorsWhenStackValueIsNotCorrectlyTyped():  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        merged(
            "name: test\nruntime: dotnet\nconfig:\n  values:\n    type: array\n    items:\n"
            "      type: string\n    default: [value]",
            "config:\n  test:values: someValue\n",
        )
    assert "Stack 'dev' with configuration key 'values' must be of type 'array<string>'" in str(
        raised.value
    )


def test_TestStackConfigIntegerTypeIsCorrectlyValidated():  # noqa: N802
    project = "name: test\nruntime: dotnet\nconfig:\n  importantNumber:\n    type: integer\n"
    merged(project, "config:\n  test:importantNumber: 20\n")
    with pytest.raises(ConfigError) as raised:
        merged(project, "config:\n  test:importantNumber: hello\n")
    assert "Stack 'dev' with configuration key 'importantNumber' must be of type 'integer'" in str(
        raised.value
    )


def test_TestStackConfigErrorsWhenMissingStackValueForConfigTypeWithNoDefault():  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        merged(
            "name: test\nruntime: dotnet\nconfig:\n  values:\n    type: array\n    items:\n"
            "      type: string",
            "",
        )
    assert "Stack 'dev' is missing configuration value 'values'" in str(raised.value)


def test_TestStackConfigErrorsWhenMissingTwoStackValueForConfigTypeWithNoDefault():  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        merged(
            "name: test\nruntime: dotnet\nconfig:\n  another:\n    type: string\n  values:\n"
            "    type: array\n    items:\n      type: string",
            "",
        )
    assert "Stack 'dev' is missing configuration values 'another' and 'values'" in str(raised.value)


def test_TestStackConfigErrorsWhenMissingMultipleStackValueForConfigTypeWithNoDefault():  # noqa: N802
    with pytest.raises(ConfigError) as raised:
        merged(
            "name: test\nruntime: dotnet\nconfig:\n  hello:\n    type: integer\n  values:\n"
            "    type: array\n    items:\n      type: string\n  world:\n    type: string",
            "",
        )
    assert "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'" in str(
        raised.value
    )


def test_TestStackConfigDoesNotErrorWhenProjectHasNotDefinedConfig():  # noqa: N802
    merged("name: test\nruntime: dotnet", "config:\n  hello: 21\n  world: 42\n  another: 42")


def test_TestStackConfigSecretIsCorrectlyValidated():  # noqa: N802
    project = (
        "name: test\nruntime: dotnet\nconfig:\n  importantNumber:\n    type: integer\n"
        "    secret: true\n"
    )
    crypter = Base64Crypter()
    encrypted = crypter.encrypt("20")
    merged(project, f"config:\n  test:importantNumber:\n    secure: {encrypted}\n", crypter)
    with pytest.raises(ConfigError) as raised:
        merged(project, "config:\n  test:importantNumber: 20\n", crypter)
    assert (
        "Stack 'dev' with configuration key 'importantNumber' must be encrypted as it's secret"
        in str(raised.value)
    )


def test_TestStackConfigUInt64():  # noqa: N802
    config = merged(
        "name: test\nruntime: dotnet", "config:\n  test:instanceSize: 18446744073709551615"
    )
    assert len(config) == 1
    assert text(config, "test:instanceSize") == "18446744073709551615"


# --- What this project relies on ---------------------------------------------------------------

PROJECT_YAML = """
name: shop
runtime: python
config:
  production:
    type: boolean
    default: false
  service.memory:
    type: integer
    default: 512
  service.environment:
    type: array
    items:
      type: string
    default: []
  database.engineVersion:
    type: string
    default: "16"
  database.nonce:
    type: string
    default: "0123"
  database.host:
    type: string
    default: ""
"""


def run(stack_yaml: str, **kwargs: Any):
    project = project_from_document(load_yaml(PROJECT_YAML))
    return program_config(project, "dev", (load_yaml(stack_yaml) or {}).get("config"), **kwargs)


def test_a_declared_default_becomes_a_member_of_the_groups_object_coerced_like_the_cli():
    config = run("config: {}").config
    assert json.loads(config["shop:service"]) == {"memory": 512, "environment": []}
    # "16" became the number 16; "0123" and "" stay strings (object.go, coerce).
    assert config["shop:database"] == '{"engineVersion":16,"host":"","nonce":"0123"}'
    # A top-level default stays the string the CLI formats it as.
    assert config["shop:production"] == "false"


def test_a_flat_dotted_stack_key_is_not_the_groups_member_so_both_reach_the_program():
    # What the issue found: `pulumi config set service.memory 1024` (no --path) writes a flat
    # key that the merge never finds, so the default object is added beside it.
    config = run('config:\n  shop:service.memory: "1024"').config
    assert config["shop:service.memory"] == "1024"
    assert json.loads(config["shop:service"])["memory"] == 512


def test_a_structured_stack_value_is_kept_and_the_missing_members_get_their_defaults():
    config = run("config:\n  shop:service:\n    memory: 1024").config
    assert json.loads(config["shop:service"]) == {"memory": 1024, "environment": []}


def test_a_nested_value_of_the_wrong_type_is_refused_with_the_clis_wording():
    with pytest.raises(ConfigError) as raised:
        run("config:\n  shop:service:\n    memory: lots")
    assert str(raised.value) == (
        "Stack 'dev' with configuration key 'service.memory' must be of type 'integer'"
    )


def test_a_nested_number_as_a_quoted_string_passes_the_clis_integer_check():
    # validateStackConfigValues sees a nested scalar in its string form: "1024" is an integer.
    config = run('config:\n  shop:service:\n    memory: "1024"').config
    assert json.loads(config["shop:service"])["memory"] == "1024"


def test_edits_are_written_as_pulumi_config_set_path_writes_them():
    result = run(
        "config:\n  shop:service:\n    memory: 512",
        edits={"service.memory": 1024, "service.environment[0]": "A=1", "database.host": None},
    )
    service = json.loads(result.config["shop:service"])
    assert service == {"memory": 1024, "environment": ["A=1"]}
    # Removed with `rm --path`, then filled with the default again by the merge.
    assert json.loads(result.config["shop:database"])["host"] == ""


def test_a_secret_member_makes_the_whole_key_secret_and_is_never_decrypted_offline():
    result = run("config:\n  shop:database:\n    host:\n      secure: v1:AAAA")
    assert result.secret_keys == {"shop:database"}
    assert json.loads(result.config["shop:database"])["host"] == "[secret]"
    assert "v1:AAAA" not in result.config["shop:database"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("false", False),
        ("16", 16),
        ("-1", -1),
        ("0", 0),
        ("0123", None),
        ("00", None),
        ("1.5", None),
        ("True", None),
        ("18446744073709551615", 18446744073709551615),
        ("18446744073709551616", None),
        ("", None),
    ],
)
def test_coerce_turns_exactly_what_the_cli_turns_into_booleans_and_numbers(text, expected):
    assert coerce(text) == expected


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("off", "off"),
        ("yes", "yes"),
        ("on", "on"),
        ("True", True),
        ("1e3", 1000.0),
        ("2024-01-01", "2024-01-01"),
        ("12:30", "12:30"),
        ("0x1F", 31),
        ("1_000", 1000),
        ("~", None),
        ('"16"', "16"),
    ],
)
def test_stack_files_are_read_with_yaml_v3s_scalars_not_yaml_1_1s(yaml_text, expected):
    assert load_yaml(f"v: {yaml_text}")["v"] == expected


def test_a_duplicate_key_is_refused_like_yaml_v3_does():
    with pytest.raises(Exception, match='mapping key "a" already defined at line 1'):
        load_yaml("a: 1\na: 2\n")


@pytest.mark.parametrize(
    "path", ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "bootstrap/Pulumi.yaml"]
)
def test_the_projects_yaml_files_read_the_same_with_libyaml_as_with_the_python_parser(path):
    # load_yaml takes libyaml's parser when PyYAML has it (the plan reads these on every run);
    # the values must be those of the pure-Python loader, with the same rules.
    import yaml

    from plan import engine_config

    text = (Path(__file__).resolve().parents[1] / path).read_text()
    python = yaml.load(text, Loader=engine_config._GoYamlLoader)  # a SafeLoader subclass
    assert repr(load_yaml(text)) == repr(python)


def test_a_yaml_error_is_worded_by_the_python_parser_with_the_offending_line():
    with pytest.raises(Exception) as error:
        load_yaml("config:\n  a: [1\n")
    assert "^" in str(error.value)  # the Python parser's snippet marks the place
    with pytest.raises(Exception) as duplicate:
        load_yaml("a: 1\na: 2\n")
    assert "a: 2" in str(duplicate.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (4.2, "4.2"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (1e20, "100000000000000000000"),
        (-0.0, "-0"),
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ({"b": 1, "a": [True, None]}, '{"a":[true,null],"b":1}'),
    ],
)
def test_json_is_written_like_gos_encoding_json(value, expected):
    assert go_json(value) == expected


def test_a_float_stack_value_is_handed_over_in_gos_format():
    assert value_from_yaml(1024.0) == V("1024")
    assert value_to_yaml(OBJ('{"a":1.5}')) == {"a": 1.5}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("service.memory", ConfigKey("shop", "service.memory")),
        ('["network.publicSubnetIds"][0]', ConfigKey("shop", '["network.publicSubnetIds"][0]')),
        ("aws:region", ConfigKey("aws", "region")),
        ("app-secrets:API_KEY", ConfigKey("app-secrets", "API_KEY")),
    ],
)
def test_cli_keys_take_the_projects_namespace_unless_they_name_one(key, expected):
    assert parse_cli_key(key, True, "shop") == expected


def test_property_paths_read_brackets_quotes_and_indexes_like_go():
    assert parse_property_path('a["b.c"][2].d') == ["a", "b.c", 2, "d"]
    assert parse_property_path('["a \\"q\\""]') == ['a "q"']
    assert parse_property_path("a..b") == ["a", "b"]


def test_the_project_file_is_checked_like_the_cli_checks_it():
    with pytest.raises(ConfigError, match="is not of the expected type 'integer'"):
        project_from_document(
            load_yaml("name: p\nconfig:\n  a:\n    type: integer\n    default: x")
        )
    with pytest.raises(ConfigError, match="does not specify the underlying type"):
        project_from_document(load_yaml("name: p\nconfig:\n  a:\n    type: array\n    default: []"))
    with pytest.raises(ConfigError, match="should not define a type"):
        project_from_document(load_yaml("name: p\nconfig:\n  aws:x:\n    type: string"))


def test_an_integer_default_is_checked_with_gos_types():
    # ValidateConfigValue (workspace/project.go): `value.(int)`, where yaml.v3 decodes a number
    # beyond int64 as uint64; then `f == math.Trunc(f)`, which holds for an infinity.
    with pytest.raises(ConfigError, match="is not of the expected type 'integer'"):
        project_from_document(
            load_yaml("name: p\nconfig:\n  a:\n    type: integer\n    default: 9223372036854775808")
        )
    project_from_document(load_yaml("name: p\nconfig:\n  a:\n    type: integer\n    default: .inf"))
    with pytest.raises(ConfigError, match="is not of the expected type 'integer'"):
        project_from_document(
            load_yaml("name: p\nconfig:\n  a:\n    type: integer\n    default: .nan")
        )


def test_base64_crypter_round_trips_like_gos():
    assert Base64Crypter().decrypt(base64.b64encode(b"20").decode()) == "20"


def test_items_type_names_nest_like_infer_full_type_name():
    project = Project(
        "p", {"a": ConfigType(type="array", items=ItemsType("array", ItemsType("integer")))}
    )
    config = {K("p", "a"): OBJ('[["x"]]')}
    with pytest.raises(ConfigError, match="must be of type 'array<array<integer>>'"):
        validate_stack_config_values("dev", project, config, BLINDING)
