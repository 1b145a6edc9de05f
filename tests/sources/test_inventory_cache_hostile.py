"""A cache that cannot lie (issue 9, section 3): a planted, damaged or hostile inventory-cache entry
never changes an answer, never crashes, never blocks; `cache clear` removes only what freezekit wrote."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.test_bad_inputs import TIED, link
from tests.cli.test_bad_inputs_untrusted import _no_reader_blocked, fifo  # noqa: F401  (the FIFO watchdog fixture)

# -- 3. a cache that cannot lie ----------------------------------------------------------------------


def _rows(doc: dict, change) -> str:  # noqa: ANN001
    change(doc)
    return json.dumps(doc)


HOSTILE_ENTRIES = {
    "negative shape": lambda d: _rows(d, lambda d: d["params"][0].__setitem__(1, [-5, 3])),
    "bool in a shape": lambda d: _rows(d, lambda d: d["params"][0].__setitem__(1, [True, 32])),
    "float in a shape": lambda d: _rows(d, lambda d: d["params"][0].__setitem__(1, [8.0, 4])),
    "numel past 2**53": lambda d: _rows(d, lambda d: d["params"][0].__setitem__(1, [2**30, 2**30, 2**30])),
    "requires_grad not a bool": lambda d: _rows(d, lambda d: d["params"][0].__setitem__(5, 0)),
    "a parameter listed twice": lambda d: _rows(d, lambda d: d["params"].append(d["params"][1])),
    "a row too short": lambda d: _rows(d, lambda d: d["params"][0].pop()),
    "an extra key": lambda d: _rows(d, lambda d: d.__setitem__("totals", {"total": 1})),
    "nested 100000 deep": lambda d: "[" * 100_000 + "]" * 100_000,
    "not UTF-8": lambda d: b"\xff\xfe" + json.dumps(d).encode(),
}


@pytest.fixture
def cached_entry(cli, tmp_path, monkeypatch):
    """A fresh cache holding TIED's entry: (its path, its parsed content, the JSON report it gives)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FREEZEKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, out, _ = cli("count", TIED, "-f", "json")
    assert code == 0
    (entry,) = (tmp_path / "cache").glob("inv-*.json")
    return entry, json.loads(entry.read_text()), json.loads(out)["totals"]


@pytest.mark.parametrize("damage", HOSTILE_ENTRIES.values(), ids=HOSTILE_ENTRIES.keys())
def test_hostile_cache_entry_never_changes_the_answer(cli, cached_entry, damage):
    entry, doc, totals = cached_entry
    content = damage(doc)
    entry.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = cli("count", TIED, "-f", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["totals"] == totals and totals["total"] == 60 and totals["trainable"] == 60
    assert json.loads(entry.read_text())["params"][0][1] == [8, 4]  # rebuilt


@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "FIFO", "directory", "symlink to a good entry"])
def test_cache_entry_that_is_not_a_regular_file_is_never_read(cli, cached_entry, tmp_path, kind):
    entry, doc, totals = cached_entry
    good = tmp_path / "elsewhere.json"
    good.write_text(json.dumps(doc))
    entry.unlink()
    if kind == "FIFO":
        fifo(entry.parent, entry.name)
    elif kind == "directory":
        entry.mkdir()
    else:
        os.symlink(link(tmp_path, "zero", "/dev/zero") if "zero" in kind else good, entry)
    code, out, err = cli("count", TIED, "-f", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["totals"] == totals


def test_cache_clear_removes_only_what_it_wrote(cli, cached_entry, tmp_path):
    entry, doc, _ = cached_entry
    folder = entry.parent
    keep = {"inv-notes.txt": "mine", "inv-" + "a" * 64 + ".json": '{"my": "data"}', "inv-.json": "x"}
    for name, text in keep.items():
        (folder / name).write_text(text)
    target = tmp_path / "precious.json"
    target.write_text(json.dumps(doc))
    os.symlink(target, folder / ("inv-" + "b" * 64 + ".json"))
    stale_temp = folder / f".{entry.name}.freezekit-tmp-99999999-0123abcd"
    stale_temp.write_text("half")
    code, out, _ = cli("cache", "clear")
    assert code == 0 and out.startswith("removed 2 cached inventories")
    assert sorted(p.name for p in folder.iterdir()) == sorted([*keep, "inv-" + "b" * 64 + ".json"])
    assert target.read_text() == json.dumps(doc)


# -- issue 20, class 12: a cache someone else could write is not read; entries carry a checksum ---------


def _false_shape(doc: dict) -> dict:
    """The entry with its first parameter's shape shrunk, every other field kept well-formed."""
    doc["params"][0][1] = [1, 1]
    return doc


def test_entry_edited_to_a_false_shape_is_rebuilt(cli, cached_entry):
    entry, doc, totals = cached_entry
    entry.write_text(json.dumps(_false_shape(doc), separators=(",", ":")))  # the checksum no longer matches
    code, out, err = cli("count", TIED, "-f", "json", "--expect-total", "60")
    assert (code, err) == (0, "")
    assert json.loads(out)["totals"] == totals and totals["total"] == 60
    assert json.loads(entry.read_text())["params"][0][1] == [8, 4]  # rebuilt
    assert oct(os.stat(entry).st_mode & 0o777) == "0o600"


def _resigned(doc: dict) -> str:
    """What an attacker who can write the folder plants: a false shape with a recomputed checksum."""
    from freezekit.sources.cache_trust import checksum

    doc = _false_shape(doc)
    doc["sha256"] = checksum({k: v for k, v in doc.items() if k != "sha256"})
    return json.dumps(doc, separators=(",", ":"))


def test_resigned_entry_is_believed_only_when_private(cli, cached_entry, tmp_path):
    """The checksum is not a signature: the owner and mode checks are what refuse a planted entry."""
    entry, doc, _ = cached_entry
    entry.write_text(_resigned(doc))
    code, out, _ = cli("count", TIED, "-f", "json", "--no-cache")
    assert json.loads(out)["totals"]["total"] == 60  # --no-cache never reads it
    code, out, err = cli("count", TIED, "-f", "json")
    assert json.loads(out)["totals"]["total"] == 60 - 32 + 1  # the owner's own private cache: believed


@pytest.mark.parametrize("what", ["folder", "entry"])
def test_cache_writable_by_group_or_others_is_ignored_with_one_warning(cli, cached_entry, what):
    entry, doc, totals = cached_entry
    entry.write_text(_resigned(doc))
    target = entry.parent if what == "folder" else entry
    os.chmod(target, 0o777 if what == "folder" else 0o666)
    code, out, err = cli("count", TIED, "-f", "json", "--expect-total", "60")
    assert code == 0 and json.loads(out)["totals"] == totals
    assert err.splitlines() == [
        f"freezekit: warning: inventory cache ignored: {target} is writable by group or others "
        f"(mode {'777' if what == 'folder' else '666'}); a cache others can write may lie about shapes: "
        "use a private FREEZEKIT_CACHE_DIR, or --no-cache"
    ]
    assert ("false" if what == "folder" else "rebuilt") == (
        "false" if json.loads(entry.read_text())["params"][0][1] == [1, 1] else "rebuilt"
    )  # nothing written into a folder in doubt; an entry in doubt in a private folder is replaced


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root")
def test_cache_entry_owned_by_another_user_is_ignored(cli, cached_entry, tmp_path):
    entry, doc, totals = cached_entry
    entry.write_text(_resigned(doc))
    os.chown(entry, 12345, 12345)
    code, out, err = cli("freeze", TIED, "--manifest", tmp_path / "m.json", "-f", "json")
    assert code == 0 and json.loads(out)["totals"] == totals
    assert err.splitlines() == [
        f"freezekit: warning: inventory cache ignored: {entry} is owned by uid 12345, not by you; "
        "a cache others can write may lie about shapes: use a private FREEZEKIT_CACHE_DIR, or --no-cache"
    ]
    assert json.loads((tmp_path / "m.json").read_text())["counts"]["parameters"] == 60
