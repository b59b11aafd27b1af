"""``ganforge train --config FILE --dry-run`` with broken and hostile config files: random JSON,
wrong types, unknown keys, a folder, bytes that are not text. Exit 0 with strict JSON, or exit 2
with one line naming --config, the file or the field's flag; never a traceback."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzztest_util import fuzz, problems, report, run_cli
from test_fuzz_train_flags import (DOCS, EITHER, FAMILY_ARCHS, FIELDS, INT64, INVALID, TYPES, _strict, by_rule,
                                   expected, judge_dry_run)


def run_config(capsys, path, *extra):
    return run_cli(["train", "--dry-run", "--config", path, *extra], capsys)


def names_for(path, dotted=None):
    names = ["--config", str(path), path.name]
    if dotted:
        names += [DOCS[dotted].flag, dotted, dotted.split(".")[1]]
    return names


def json_expected(dotted: str, value):
    """What a careful ganforge does with JSON ``value`` for field ``dotted`` (see expected())."""
    typ = TYPES[dotted]
    if value is None:
        return None if "None" in typ else INVALID
    if isinstance(value, (list, dict)):
        return INVALID
    if isinstance(value, str):
        return expected(dotted, value, via_set=False)  # as on the command line
    if dotted == "data.class_name" and isinstance(value, int) and not isinstance(value, bool):
        return EITHER  # a class by its id
    if typ.startswith("bool"):
        return value if isinstance(value, bool) else EITHER if value in (0, 1) else INVALID
    if isinstance(value, bool):
        return INVALID  # true is not a number
    if typ.startswith("str"):
        return INVALID  # a number where a name is expected
    if isinstance(value, float) and not math.isfinite(value):
        return INVALID
    if typ.startswith("float") and abs(value) > 1.7e308:
        return INVALID  # an integer no float can hold
    if typ.startswith("int"):
        if isinstance(value, float):
            if not value.is_integer():
                return INVALID
            return EITHER if abs(value) < INT64 else INVALID
        if abs(value) >= INT64:
            return INVALID
    return by_rule(dotted, value)


def judge(o, path, dotted, want):
    cfg, found = judge_dry_run(o, names_for(path, dotted), want)
    if cfg is not None:
        section, name = dotted.split(".")
        got = cfg.get(section, {}).get(name)
        if want not in (EITHER, INVALID) and (got != want or type(got) is not type(want)) and not (
                isinstance(want, int) and not isinstance(want, bool) and isinstance(got, float) and got == want):
            found.append(f"printed {got!r}, expected {want!r}")
    return found


# Wrong JSON values by the field's type (the type decides how a value is read, so every field of a
# type is tried with its type's list); LITERALS are written into the file as they are.
WRONG = {
    "int": [True, [1], {"a": 1}, 1.5, 7.0, 2**63, -(2**63) - 1, 1e300, "x", "7", None],
    "float": [True, [], {}, 10**400, "x", "0.5", 0, None],
    "bool": [[], {"a": 1}, 1.5, 2, -1, "maybe", "yes", 0, None],
    "str": [True, [1], {"a": 1}, 1.5, 0, None],
}
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "1" * 5000]


def _kind(dotted: str) -> str:
    return TYPES[dotted].split(" ")[0]


@pytest.mark.parametrize("dotted", [d for d, _ in FIELDS])
def test_every_field_with_wrong_json_types(dotted, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    section, name = dotted.split(".")
    path = tmp_path / "cfg.json"
    family = ["--preset", FAMILY_ARCHS[dotted][0]] if dotted in FAMILY_ARCHS else []  # its family's preset
    bad = []
    for value in WRONG[_kind(dotted)]:
        path.write_text(json.dumps({section: {name: value}}))
        o = run_config(capsys, path, *family)
        bad += [f"{{{section!r}: {{{name!r}: {value!r}}}}}: {p}  [{o.show()}]"
                for p in judge(o, path, dotted, json_expected(dotted, value))]
    for literal in LITERALS:
        path.write_text(f'{{"{section}": {{"{name}": {literal}}}}}')
        o = run_config(capsys, path, *family)
        # non-finite, beyond any float or int64, or more digits than Python reads: always refused
        bad += [f"{{{section!r}: {{{name!r}: {literal[:12]}{'...' if len(literal) > 12 else ''}}}}}: {p}  "
                f"[{o.show()}]" for p in judge(o, path, dotted, INVALID)]
    report(bad, f"--config with {dotted}")


def _hostile_files(tmp_path):
    d = tmp_path
    (d / "folder.json").mkdir()
    cases = {
        "folder.json": None,
        "empty.json": b"",
        "space.json": b"  \n",
        "latin1.json": '{"optim": {"lr_d": "\xe9"}}'.encode("latin-1"),
        "binary.json": bytes(range(256)) * 4,
        "bom.json": b'\xef\xbb\xbf{"optim": {"lr_d": 0.001}}',
        "utf16.json": '{"optim": {"lr_d": 0.001}}'.encode("utf-16"),
        "nested.json": b"[" * 100_000 + b"]" * 100_000,
        "nested-obj.json": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "bigint.json": b'{"train": {"steps": ' + b"9" * 5000 + b"}}",
        "array.json": b"[1, 2, 3]",
        "string.json": b'"dcgan"',
        "number.json": b"3",
        "null.json": b"null",
        "unknown-section.json": b'{"nope": {"a": 1}}',
        "unknown-field.json": b'{"optim": {"nope": 1}}',
        "section-not-object.json": b'{"optim": 3}',
        "section-list.json": b'{"optim": [1, 2]}',
        "preset-list.json": b'{"preset": [1, 2]}',
        "preset-object.json": b'{"preset": {"a": 1}}',
        "dup-keys.json": b'{"optim": {"lr_d": 0.001, "lr_d": -1}}',
        "truncated.json": b'{"optim": {"lr_d": 0.0',
        "trailing.json": b'{"optim": {}} trailing',
        "comment.json": b'{"optim": {} // comment\n}',
        "training-state-only.json": b'{"training_state": {"step": 5}}',
    }
    for name, data in cases.items():
        if data is not None:
            (d / name).write_bytes(data)
    return list(cases)


OK_FILES = {"bom.json", "training-state-only.json"}  # valid (a BOM may also be refused)
EITHER_FILES = {"bom.json", "utf16.json"}


def test_hostile_config_files(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = []
    for name in _hostile_files(tmp_path):
        path = tmp_path / name
        o = run_config(capsys, path)
        expect = "either" if name in EITHER_FILES else "ok" if name in OK_FILES else "error"
        found = problems(o, "train", expect, ["--config", name, "--preset", "nope", "optim", "--lr-d"])
        if o.exc is None and o.code == 0:
            try:
                _strict(o.out)
            except ValueError as e:
                found.append(f"no strict JSON printed ({e})")
        bad += [f"{name}: {p}  [{o.show()}]" for p in found]
    report(bad, "--config with hostile files")


def test_a_runs_own_config_json_is_accepted(tiny_run, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    o = run_config(capsys, tiny_run / "config.json")
    report([f"{p}  [{o.show()}]" for p in problems(o, "train", "ok")], "--config RUN/config.json")
    assert _strict(o.out)["model"]["g_channels"] == 8


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
_KEYS = st.sampled_from([d for d, _ in FIELDS])


@st.composite
def config_documents(draw):
    """Mostly well-formed config shapes with random values, sometimes anything at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(_JSON)
    doc: dict = {}
    for dotted in draw(st.lists(_KEYS, max_size=5)):
        section, name = dotted.split(".")
        doc.setdefault(section, {})[name] = draw(_JSON)
    if draw(st.booleans()):
        doc[draw(st.text(max_size=8))] = draw(_JSON)
    return doc


@fuzz(150)
@given(doc=config_documents())
def test_random_config_documents(doc, capsys, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "c.json"
    path.write_text(json.dumps(doc))  # NaN/Infinity written as JSON's non-standard literals
    o = run_config(capsys, path)
    found = problems(o, "train", "either", ["--config", str(path), "c.json", "--", "section", "field"])
    if o.exc is None and o.code == 0:
        try:
            cfg = _strict(o.out)
        except ValueError as e:
            found.append(f"no strict JSON printed ({str(e)[:80]})")
        else:
            for section, fields in (doc.items() if isinstance(doc, dict) else []):
                for name, value in (fields.items() if isinstance(fields, dict) else []):
                    dotted = f"{section}.{name}"
                    if dotted in TYPES and json_expected(dotted, value) is INVALID:
                        found.append(f"accepted {dotted}={value!r}, printed {cfg[section][name]!r}")
    report([f"{p}  [doc {json.dumps(doc)[:200]}; {o.show()}]" for p in found], "--config")
