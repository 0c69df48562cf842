#!/usr/bin/python3
"""The core's JSON reader against Python's json module, on generated input.

Usage: json_differential.py TEST_JSON [CASES] [SEED]

TEST_JSON is the test_json binary; `TEST_JSON --canon` parses standard input
and prints the document in canonical form, or "error <STATUS> <message>".
Documents are random JSON values written by json.dumps in varied styles, then
mutated byte by byte, so that most are slightly broken.  For each, both
readers must agree on accept/reject and, when they accept, on the value
(object members compared in order, duplicates included).

Known, intended differences from Python, which the comparison accounts for:
  - Python accepts NaN, Infinity and -Infinity; RFC 8259 and nbr do not.
  - Python accepts unpaired surrogate escapes ("\\ud800"); they have no UTF-8
    form, so nbr rejects them.
  - Python rejects a leading byte order mark in a str; nbr skips it (the RFC
    lets a reader ignore it).
Prints "N passed, N failed".
"""
import json
import random
import subprocess
import sys

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

TEST_JSON = sys.argv[1]
CASES = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 20240601

rng = random.Random(SEED)

STRINGS = ["", "a", "cells", "é", "😀", "tab\there", "quote\"", "back\\slash", "\u0000",
           "\u001f", "\u007f", "line\nbreak", "\u2028", "日本語", "/"]
NUMBERS = [0, -0.0, 1, -1, 42, 3.25, -2.5e-7, 1e300, 123456789012345678901, 0.1]
# Bytes that, inserted or substituted, make interesting near-misses.
MUTATIONS = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b" ", b"\t", b"\n", b"\r",
             b"0", b"1", b"-", b"+", b".", b"e", b"E", b"t", b"f", b"n", b"u", b"x",
             b"\x00", b"\x01", b"\x1f", b"\x7f", b"\xc3\xa9", b"\xff", b"\xc0\xaf",
             b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\\u", b"\\ud83d", b"\\ude00",
             b"\\ud83d\\ude00", b"NaN", b"Infinity", b"true", b"null", b"/*", b"'"]


def random_value(depth=0):
    kind = rng.randrange(7 if depth < 6 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice(NUMBERS)
    if kind in (2, 3):
        return "".join(rng.choice(STRINGS) for _ in range(rng.randrange(3)))
    if kind == 4:
        return [random_value(depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(STRINGS) + str(i): random_value(depth + 1) for i in range(rng.randrange(4))}


def dumps(value):
    style = rng.randrange(3)
    if style == 0:
        return json.dumps(value, ensure_ascii=True)
    if style == 1:
        return json.dumps(value, ensure_ascii=False, indent=rng.choice([1, 2, "\t"]))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def mutate(data):
    data = bytearray(data)
    for _ in range(rng.randrange(4)):
        action = rng.randrange(3)
        at = rng.randrange(len(data) + 1)
        if action == 0 and data:
            del data[min(at, len(data) - 1)]
        elif action == 1:
            data[at:at] = rng.choice(MUTATIONS)
        elif data:
            at = min(at, len(data) - 1)
            data[at:at + 1] = rng.choice(MUTATIONS)
    return bytes(data)


def reject_constant(name):
    raise ValueError("non-standard constant " + name)


def has_lone_surrogate(value):
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, (list, tuple)):  # arrays, ["obj", pairs], (key, value)
        return any(has_lone_surrogate(v) for v in value)
    return False


def python_reading(data):
    """('encoding'|'invalid'|'ok', value) as nbr should see it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "encoding", None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text, object_pairs_hook=lambda pairs: ["obj", pairs],
                           parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return "invalid", None
    return ("invalid", None) if has_lone_surrogate(value) else ("ok", value)


def flatten_pairs(value):
    """object_pairs_hook values hold tuples; make them lists for comparison."""
    if isinstance(value, list):
        return [flatten_pairs(v) for v in value]
    if isinstance(value, tuple):
        return [flatten_pairs(v) for v in value]
    return value


def nbr_reading(data):
    result = subprocess.run([TEST_JSON, "--canon"], input=data, capture_output=True)
    out = result.stdout.decode("utf-8", "replace")
    if result.returncode not in (0, 1) or result.stderr:
        return "crash", out + result.stderr.decode("utf-8", "replace")
    if out.startswith("error NBR_EENCODING"):
        return "encoding", out
    if out.startswith("error "):
        return "invalid", out
    value = json.loads(out, object_pairs_hook=lambda pairs: ["obj", pairs])
    return "ok", value


def main():
    passed = failed = 0
    corpus = [b"", b"[]", b"\xef\xbb\xbf{}", b'"\\ud800"', b"NaN", b"[-Infinity]",
              b'{"a":1,"a":2}', b'"\\u0000"', b"1e999", b"[" * 40 + b"]" * 40]
    for _ in range(CASES):
        data = dumps(random_value()).encode("utf-8")
        corpus.append(mutate(data) if rng.random() < 0.8 else data)
    for data in corpus:
        expected, expected_value = python_reading(data)
        got, got_value = nbr_reading(data)
        same = expected == got
        if same and got == "ok":
            same = flatten_pairs(expected_value) == flatten_pairs(got_value)
        if same:
            passed += 1
        else:
            failed += 1
            if failed <= 20:
                print(f"DIFFERENT for {data!r}:\n  python: {expected} {expected_value!r}\n"
                      f"  nbr:    {got} {got_value!r}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
