"""Writes tests/data/bad/: hostile and broken spec files, and EXPECTED.tsv with the line, column and message
fragment each must produce. Positions are worked out from the text (noted beside each); run to regenerate.

Usage: python tests/data/make_bad_corpus.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent / "bad"
ONE_STAGE = "stages:\n  - {depth: 1, width: 8, stride: 1}\n"
X9 = ", ".join(['"x"'] * 9)
BOMB = (
    "netspec: 1\na: &a ["
    + X9
    + "]\n"
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
)

# name: (content, line, column, fragment)
CORPUS: dict[str, tuple[str | bytes, int, int, str]] = {
    # Tags that would run code or build objects: refused at the tagged node.
    "tag_python_apply": (
        "netspec: 1\nname: !!python/object/apply:os.system ['echo pwned']\n",
        2,
        7,
        "the tag !!python/object/apply:os.system is not allowed",
    ),
    "tag_python_name": (
        "netspec: 1\nname: !!python/name:os.system ''\n",
        2,
        7,
        "the tag !!python/name:os.system is not allowed",
    ),
    "tag_python_module": ("netspec: !!python/module:os ''\n", 1, 10, "the tag !!python/module:os is not allowed"),
    "tag_python_object_mapping": (
        "netspec: 1\nblock: !!python/object:netspec.spec.BlockSettings {type: basic}\n",
        2,
        8,
        "the tag !!python/object:netspec.spec.BlockSettings is not allowed",
    ),
    "tag_local": ("netspec: 1\nname: !evil x\n", 2, 7, "the tag !evil is not allowed"),
    "tag_set": ("netspec: 1\nname: !!set {a, b}\n", 2, 7, "the tag !!set is not allowed"),
    "tag_binary": ("netspec: 1\nname: !!binary aGVsbG8=\n", 2, 7, "the tag !!binary is not allowed"),
    "tag_timestamp": ("netspec: 1\nname: !!timestamp 2001-12-14\n", 2, 7, "the tag !!timestamp is not allowed"),
    # Aliases: a billion laughs (9 levels of 9) stops at the 10,001st value. `a` holds 10 values, `b` 91, `c` 820,
    # `d` 7,381. Values 1-923 are the root, netspec, a, b and c; d's definition 924-8,304; e's list 8,305; its
    # first element (a d, 8,306) holds c's at 8,307-9,126, 9,127-9,946 and 9,947-10,766; in the third, the first
    # b (9,948-10,038) holds a's of 10 values; the sixth (9,999-10,008) has its first "x" at 10,000 and its
    # second at 10,001: line 2, column 13. A cycle stops at once.
    "alias_bomb": (BOMB, 2, 13, "expands to more than 10,000 values"),
    "alias_cycle": ("netspec: 1\nstages: &x\n  - *x\n", 2, 9, "an alias refers to a node that contains it"),
    # 5,000 levels: the root mapping is level 1, so the 64th bracket (column 6 + 64) is level 65.
    "nesting_5000_lists": (
        "netspec: 1\nname: " + "[" * 5000 + "]" * 5000 + "\n",
        2,
        70,
        "nesting deeper than 64 levels",
    ),
    "nesting_5000_mappings": (
        "netspec: 1\nx: " + "{a: " * 5000 + "}" * 5000 + "\n",
        2,
        256,
        "nesting deeper than 64 levels",
    ),
    # Not text: NUL at offset 10 (line 1, column 11); bytes that are not UTF-8; a UTF-16 byte-order mark.
    "binary_nul": (b"netspec: 1\x00\x01\x02", 1, 11, "character #x0000 is not allowed"),
    "binary_png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, 1, "not UTF-8 text: invalid byte 0x89"),
    "utf16": ("netspec: 1\n".encode("utf-16"), 1, 1, "not UTF-8 text: invalid byte 0xff"),
    "latin1": (b"netspec: 1\nname: caf\xe9\n", 2, 10, "not UTF-8 text: invalid byte 0xe9"),
    "control_character": (b"netspec: 1\nname: a\x07b\n", 2, 8, "character #x0007 is not allowed"),
    # Duplicate keys, at the second one.
    "duplicate_top_level": (
        "netspec: 1\nname: a\nname: b\n" + ONE_STAGE,
        3,
        1,
        "duplicate key 'name' (first set on line 2)",
    ),
    "duplicate_nested": (
        "netspec: 1\nblock: {type: basic, type: bottleneck}\n" + ONE_STAGE,
        2,
        22,
        "duplicate key 'type' (first set on line 2)",
    ),
    # YAML 1.1 booleans are strings in YAML 1.2, and then the wrong type.
    "yaml11_no": (
        "netspec: 1\nblock: {zero_init_last: no}\n" + ONE_STAGE,
        2,
        25,
        "expected true or false, got the string 'no'",
    ),
    "yaml11_on": (
        "netspec: 1\n" + ONE_STAGE + "head: {norm: on}\n",
        4,
        14,
        "expected true or false, got the string 'on'",
    ),
    "yaml11_yes": (
        "netspec: 1\nstem: {norm: yes}\n" + ONE_STAGE,
        2,
        14,
        "expected true or false, got the string 'yes'",
    ),
    # Numbers: a float where an integer belongs, integers too long to read, not-a-number, infinity.
    "float_depth": (
        "netspec: 1\nstages:\n  - {depth: 1e3, width: 8, stride: 1}\n",
        3,
        13,
        "expected an integer, got the number 1000.0",
    ),
    "huge_integer": (
        "netspec: 1\nstages:\n  - {depth: 1, width: 123456789012345678901234567890, stride: 1}\n",
        3,
        23,
        "an integer of 30 digits is too large",
    ),
    "nan_width": (
        "netspec: 1\nstages:\n  - {depth: 1, width: .nan, stride: 1}\n",
        3,
        23,
        "expected an integer, got the number nan",
    ),
    "inf_dropout": (
        "netspec: 1\n" + ONE_STAGE + "head: {dropout: .inf}\n",
        4,
        17,
        "must be less than 1.0, got the number inf",
    ),
    "negative_stride": (
        "netspec: 1\nstages:\n  - {depth: 1, width: 8, stride: -2}\n",
        3,
        34,
        "must be at least 1, got the integer -2",
    ),
    "zero_width": (
        "netspec: 1\nstages:\n  - {depth: 1, width: 0, stride: 1}\n",
        3,
        23,
        "must be at least 1, got the integer 0",
    ),
    # Wrong shapes of document and fields.
    "stages_mapping": ("netspec: 1\nstages: {depth: 3}\n", 2, 9, "expected a list, got a mapping"),
    "stage_string": ('netspec: 1\nstages: ["64"]\n', 2, 10, "expected a mapping, got the string '64'"),
    "scalar_document": ("42\n", 1, 1, "a spec must be a mapping of fields"),
    "list_document": ("- netspec: 1\n", 1, 1, "a spec must be a mapping of fields"),
    "empty": ("", 1, 1, "empty document"),
    "comments_only": ("# nothing here\n", 1, 1, "empty document"),
    "two_documents": ("netspec: 1\n---\nnetspec: 1\n", 2, 1, "a spec file holds one YAML document"),
    # Broken YAML: the flow sequence is still open at the end of the stream (line 3, column 1); a tab
    # cannot indent; the quoted scalar is still open at the end (line 3, column 1); a second colon.
    "unclosed_bracket": ("netspec: 1\nstages: [\n", 3, 1, "invalid YAML"),
    "tab_indent": (
        "netspec: 1\nblock:\n\ttype: basic\n",
        3,
        1,
        "invalid YAML: found character '\\t' that cannot start any token",
    ),
    "unclosed_quote": ('netspec: 1\nname: "abc\n', 3, 1, "invalid YAML"),
    "colon_in_value": ("netspec: 1\nname: a: b\n", 2, 8, "invalid YAML: mapping values are not allowed here"),
    # YAML features netspec does not give a meaning to: merge keys and complex keys are unknown fields.
    "merge_key": ("netspec: 1\n" + ONE_STAGE + "<<: {name: x}\n", 4, 1, "unknown field '<<'"),
    "complex_key": ("netspec: 1\n" + ONE_STAGE + "? [a, b]\n: c\n", 4, 3, "unknown field '<complex key>'"),
    # Versions.
    "version_string": ('netspec: "1"\n' + ONE_STAGE, 1, 10, "expected an integer, got the string '1'"),
    "version_2": ("netspec: 2\n" + ONE_STAGE, 1, 10, "unsupported format version 2; supported versions: 1"),
    # extends may not reach outside builtins and relative .yaml files, nor loop.
    "extends_absolute": (
        "netspec: 1\nextends: /etc/passwd\n",
        2,
        10,
        "'/etc/passwd' must be a builtin spec name or a relative path",
    ),
    "extends_not_yaml": (
        "netspec: 1\nextends: ../../../../etc/hosts\n",
        2,
        10,
        "must be a builtin spec name or a relative path to a .yaml",
    ),
    "extends_list": (
        "netspec: 1\nextends: [a]\n",
        2,
        10,
        "expected a builtin spec name or a relative path, got a list",
    ),
    "extends_self": ("netspec: 1\nextends: extends_self.yaml\n", 2, 10, "extends cycle"),
    # extends names a builtin in a folder by its name; a missing one is named; a chain is capped (test_hostile.py
    # builds a 40-file chain: the corpus holds one file per case).
    "extends_builtin_typo": (
        "netspec: 1\nextends: cifar/resnet-20\n",
        2,
        10,
        "'cifar/resnet-20' must be a builtin spec name or a relative path to a .yaml or .yml file; "
        "did you mean 'cifar/resnet20'?",
    ),
    # Escapes that would reach a terminal: refused where they are written, whether a value or a key, C0, C1 or a
    # bidirectional override (which reorders what the reader sees). Column 14 is the opening quote.
    "control_escape_description": (
        'netspec: 1\ndescription: "\\e]0;title\\a\\e[2J"\n' + ONE_STAGE,
        2,
        14,
        "description: control character U+001B is not allowed in text",
    ),
    "control_escape_name": ('netspec: 1\nname: "x\\x9b31m"\n' + ONE_STAGE, 2, 7, "control character U+009B"),
    "control_bidi_name": ('netspec: 1\nname: "abc\\u202edcb"\n' + ONE_STAGE, 2, 7, "control character U+202E"),
    "control_escape_key": ('netspec: 1\n"a\\e[2J": 1\n' + ONE_STAGE, 2, 1, "control character U+001B"),
    # Size: more values than a spec needs, without a single alias. Values are counted from the root mapping (1), the
    # version (2) and the list (3), so value 10,001 is item 9,997 of the list; item i starts at column 5 + 3i.
    "many_values": (
        "netspec: 1\nx: [" + ", ".join(["1"] * 10_001) + "]\n",
        2,
        5 + 3 * 9_997,
        "more than 10,000 values",
    ),
    # Limits, before anything is allocated, at the field that is over (the stem, where most MACs are).
    "limit_channels": (
        "netspec: 1\nstages:\n  - {depth: 1, width: 1000000, stride: 1}\n",
        3,
        23,
        "1,000,000 channels exceeds the limit of 65,536; raise it with --limit channels=1000000",
    ),
    "limit_blocks": (
        "netspec: 1\nstages:\n  - {depth: 100000, width: 8, stride: 1}\n",
        3,
        13,
        "100,000 blocks in all exceeds the limit of 10,000; raise it with --limit blocks=100000",
    ),
    "limit_kernel": (
        "netspec: 1\nstem: {convs: [{width: 8, kernel: 99}]}\n" + ONE_STAGE,
        2,
        35,
        "99 exceeds the limit of 31; raise it with --limit kernel=99",
    ),
    "limit_groups": (
        "netspec: 1\nblock: {type: bottleneck, groups: 8192, width_per_group: 1}\n"
        "stages: [{depth: 1, width: 64, stride: 1}]\n",
        2,
        35,
        "8,192 exceeds the limit of 4,096; raise it with --limit groups=8192",
    ),
    "limit_params": (
        "netspec: 1\n" + ONE_STAGE + "head: {hidden: [60000], classes: 60000}\n",
        4,
        7,
        "parameters exceeds the limit of 2,000,000,000; raise it with --limit params=",
    ),
    "limit_macs": (
        "netspec: 1\ninput: {size: 100000}\nstem: imagenet\n" + ONE_STAGE,
        3,
        7,
        "MACs exceeds the limit of 10,000,000,000,000; raise it with --limit macs=",
    ),
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    lines = ["file\tline\tcolumn\tfragment"]
    for name, (content, line, col, fragment) in CORPUS.items():
        data = content if isinstance(content, bytes) else content.encode()
        (HERE / f"{name}.yaml").write_bytes(data)
        lines.append(f"{name}.yaml\t{line}\t{col}\t{fragment}")
    (HERE / "EXPECTED.tsv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
