import pytest

from pystep.jose.encoding import go_json_dumps
from pystep.userclaim import decode_value, load_object


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("1.5", 1.5),
        ("true", True),
        ("null", None),
        ('"quoted"', "quoted"),
        ("[1,2]", [1, 2]),
        ('{"a":1}', {"a": 1}),
        ("plain words", "plain words"),
        # Not JSON to Go: they stay strings, so the token stays valid JSON.
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e400", "1e400"),
    ],
)
def test_set_values_decode_like_go(text: str, value: object) -> None:
    assert decode_value(text) == value
    go_json_dumps({"user": {"k": decode_value(text)}})  # never raises


def test_deep_nesting_is_just_a_string_or_an_error() -> None:
    deep = "[" * 100_000
    assert decode_value(deep) == deep
    with pytest.raises(ValueError, match=r"nested too deeply|Expecting"):
        load_object(deep.encode(), "f")


def test_set_file_object() -> None:
    assert load_object(b'\xef\xbb\xbf{"a": [1]}', "f") == {"a": [1]}
    with pytest.raises(ValueError, match="not a JSON object"):
        load_object(b"[1]", "the file")
    with pytest.raises(ValueError):
        load_object(b'{"a": NaN}', "f")


def test_go_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        go_json_dumps({"a": float("nan")})
