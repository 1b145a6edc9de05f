"""The fast path of the safetensors header reader (no per-object hook) refuses the same duplicates."""

import json
import struct

import pytest

from freezekit.errors import WeightsError
from freezekit.sources.safetensors_header import read_header

ENTRY = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
ENTRY2 = '{"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}'


def write(path, header_text: str, data: int = 16):
    blob = header_text.encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * data)
    return path


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"a": %s, "a": %s}' % (ENTRY, ENTRY2), "duplicate key 'a'"),
        ('{"a": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}}', "duplicate key 'dtype'"),
        ('{"__metadata__": {"k": "1", "k": "2"}, "a": %s}' % ENTRY, "duplicate key 'k'"),
        ('{"a" : %s,\n "a":%s}' % (ENTRY, ENTRY2), "duplicate key 'a'"),
    ],
)
def test_duplicates_are_refused(tmp_path, text, fragment):
    with pytest.raises(WeightsError, match=fragment):
        read_header(write(tmp_path / "x.safetensors", text))


def test_key_endings_inside_strings_still_parse(tmp_path):
    text = json.dumps({"__metadata__": {"note": 'a":b'}, 'odd":name': json.loads(ENTRY), "b": json.loads(ENTRY2)})
    header = read_header(write(tmp_path / "x.safetensors", text))
    assert [t.name for t in header.tensors] == ['odd":name', "b"] and header.metadata == {"note": 'a":b'}
