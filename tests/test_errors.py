"""Bad specs: each test pins the exact file:line:col, field, message and exit code a person sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RESNET18_STAGES

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[..., Path]


def assert_fails(cli: Cli, argv: list[str], *lines: str) -> None:
    code, out, err = cli(*argv)
    assert (code, out, err) == (1, "", "".join(f"{line}\n" for line in lines))


def test_misspelled_key_suggests_the_field(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        block: {type: basic}
        stages:
          - {depth: 2, width: 64, stride: 1}
          - {deph: 2, width: 128, stride: 2}
        """)
    # The missing `depth` is not reported a second time: the suggestion already names it.
    assert_fails(
        cli, ["validate", "spec.yaml"], "spec.yaml:5:6: stages.1.deph: unknown field 'deph'; did you mean 'depth'?"
    )


def test_unknown_key_far_from_any_field_lists_the_fields(write: Write, cli: Cli) -> None:
    write("netspec: 1\ncolour: red\n" + RESNET18_STAGES)
    known = "netspec, name, description, dims, input, stem, block, stages, head, features, regnet"
    assert_fails(
        cli, ["validate", "spec.yaml"], f"spec.yaml:2:1: colour: unknown field 'colour'; known fields: {known}"
    )


def test_misspelled_enum_value(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {type: basic, order: prost}\n" + RESNET18_STAGES)
    message = "block.order: expected 'post' or 'pre', got the string 'prost'; did you mean 'post'?"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:29: {message}")


def test_misspelled_block_type(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {type: bottlenek}\n" + RESNET18_STAGES)
    message = "block.type: unknown block type 'bottlenek'; did you mean 'bottleneck'?"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:15: {message}")


def test_string_where_an_integer_belongs(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        stages:
          - depth: 2
            width: "64"
            stride: 1
        """)
    assert_fails(
        cli, ["validate", "spec.yaml"], "spec.yaml:4:12: stages.0.width: expected an integer, got the string '64'"
    )


def test_boolean_is_not_an_integer(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstages:\n  - depth: true\n    width: 64\n    stride: 1\n")
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:3:12: stages.0.depth: expected an integer, got true")


def test_negative_depth(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstages:\n  - {depth: -1, width: 64, stride: 1}\n")
    assert_fails(
        cli, ["validate", "spec.yaml"], "spec.yaml:3:13: stages.0.depth: must be at least 1, got the integer -1"
    )


def test_missing_stages(write: Write, cli: Cli) -> None:
    write("netspec: 1\nname: nostages\n")
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:1:1: stages: missing required field")


def test_empty_stage_list(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstages: []\n")
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:2:9: stages: needs at least 1 item")


def test_unknown_format_version(write: Write, cli: Cli) -> None:
    write("netspec: 2\n" + RESNET18_STAGES)
    message = "netspec: unsupported format version 2; supported versions: 1"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:1:10: {message}")


def test_missing_format_version(write: Write, cli: Cli) -> None:
    write("name: old\n" + RESNET18_STAGES)
    message = "netspec: missing format version: add 'netspec: 1' as the first line"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:1:1: {message}")


def test_groups_on_basic_blocks(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {type: basic, groups: 32}\n" + RESNET18_STAGES)
    message = "basic blocks take groups: 1 and width_per_group: 64 only; use type: bottleneck for groups"
    # One line, though all four stages inherit the setting.
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:30: block.groups: {message}")


def test_groups_leave_a_fraction_of_a_channel(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        block: {type: bottleneck, groups: 32, width_per_group: 4}
        stages:
          - {depth: 3, width: 100, stride: 1}
        """)
    message = "width 100 x width_per_group 4 / 64 is not a whole number of channels per group"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:4:23: stages.0.width: {message}")


def test_group_norm_groups_must_divide_channels(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {norm: group, norm_groups: 24}\n" + RESNET18_STAGES)
    message = "group norm with 24 groups cannot split the 64 channels of the stem"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:35: block.norm_groups: {message}")


def test_stage_override_is_reported_at_the_stage(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        block: {type: bottleneck}
        stages:
          - {depth: 3, width: 64, stride: 1}
          - {depth: 3, width: 64, stride: 2, type: basic, groups: 2}
        """)
    message = "basic blocks take groups: 1 and width_per_group: 64 only; use type: bottleneck for groups"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:5:59: stages.1.groups: {message}")


def test_zero_padding_shortcut_cannot_shrink(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        block: {shortcut: A}
        stages:
          - {depth: 1, width: 64, stride: 1}
          - {depth: 1, width: 32, stride: 2}
        """)
    message = "shortcut A pads channels with zeros and cannot reduce 64 to 32; use shortcut: B"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:19: block.shortcut: {message}")


def test_classifier_without_pool(write: Write, cli: Cli) -> None:
    write("netspec: 1\n" + RESNET18_STAGES + "head: {pool: none}\n")
    message = "a classifier needs a global pool: set pool to avg or max, or classes to 0"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:7:14: head.pool: {message}")


def test_stem_preset_and_convs_together(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstem: {preset: cifar, convs: [{width: 16}]}\n" + RESNET18_STAGES)
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:2:7: stem: give either a preset or convs, not both")


def test_even_stem_kernel(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstem: {convs: [{width: 32, kernel: 4}]}\n" + RESNET18_STAGES)
    message = "stem.convs.0.kernel: an even kernel has no centre: give padding (a number, or same), or an odd kernel"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:36: {message}")


def test_same_padding_on_a_strided_stem_conv(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstem: {convs: [{width: 32, kernel: 4, padding: same, stride: 2}]}\n" + RESNET18_STAGES)
    message = "stem.convs.0.stride: padding: same keeps the size, so it needs stride 1"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:62: {message}")


def test_every_error_of_a_file_at_once_in_line_order(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        head: {classes: -3}
        block: {act: rleu}
        stages:
          - {depth: 0, width: 64, stride: 1}
        """)
    acts = (
        "'relu', 'relu6', 'leaky_relu', 'elu', 'selu', 'gelu', 'gelu_tanh', 'silu', 'mish', 'hardswish', 'tanh'"
        " or 'identity'"
    )
    assert_fails(
        cli,
        ["validate", "spec.yaml"],
        "spec.yaml:2:17: head.classes: must be at least 0, got the integer -3",
        f"spec.yaml:3:14: block.act: expected {acts}, got the string 'rleu'; did you mean 'relu'?",
        "spec.yaml:5:13: stages.0.depth: must be at least 1, got the integer 0",
    )


def test_document_that_is_a_list(write: Write, cli: Cli) -> None:
    write("- netspec: 1\n- name: x\n")
    message = "a spec must be a mapping of fields (netspec, name, stages, ...), got a list"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:1:1: {message}")


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_file(write: Write, cli: Cli, text: str) -> None:
    write(text)
    message = "empty document; a spec needs at least 'netspec: 1' and stages"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:1:1: {message}")


def test_yaml_syntax_error(write: Write, cli: Cli) -> None:
    write("netspec: 1\nname: a: b\n")
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:2:8: invalid YAML: mapping values are not allowed here")


def test_two_documents_in_one_file(write: Write, cli: Cli) -> None:
    write("netspec: 1\n---\nnetspec: 1\n")
    message = "a spec file holds one YAML document; found a second one"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:1: {message}")


def test_duplicate_key_names_both_lines(write: Write, cli: Cli) -> None:
    write("netspec: 1\nname: a\nname: b\n" + RESNET18_STAGES)
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:3:1: name: duplicate key 'name' (first set on line 2)")


def test_invalid_utf8(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_bytes(b"netspec: 1\nname: \xff\n")
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:2:7: not UTF-8 text: invalid byte 0xff")


def test_extends_cycle(write: Write, cli: Cli) -> None:
    write("netspec: 1\nextends: b.yaml\n", "a.yaml")
    write("netspec: 1\nextends: a.yaml\n", "b.yaml")
    message = "extends: extends cycle: a.yaml -> b.yaml -> a.yaml"
    assert_fails(cli, ["validate", "a.yaml"], f"b.yaml:2:10: {message}")


def test_extends_a_file_that_does_not_exist(write: Write, cli: Cli) -> None:
    write("netspec: 1\nextends: ./base.yaml\n")
    message = "extends: no spec file or builtin spec named './base.yaml'"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:10: {message}")


def test_extends_a_misspelled_builtin(write: Write, cli: Cli) -> None:
    write("netspec: 1\nextends: resnet05\n")
    message = (
        "extends: 'resnet05' must be a builtin spec name or a relative path to a .yaml or .yml file; did you mean "
        "'resnet50'?"
    )
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:10: {message}")


def test_error_in_a_base_file_points_into_the_base(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {type: basic, act: rleu}\n" + RESNET18_STAGES, "base.yaml")
    write("netspec: 1\nextends: base.yaml\nhead: {classes: 10}\n")
    code, _, err = cli("validate", "spec.yaml")
    assert code == 1
    assert err.startswith("base.yaml:2:27: block.act: expected 'relu', ")


def test_set_index_out_of_range(write: Write, cli: Cli) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    message = "stages.9: index 9 is out of range: stages has 4 items"
    assert_fails(cli, ["validate", "spec.yaml", "--set", "stages.9.depth=3"], f"--set stages.9.depth=3: {message}")


def test_set_value_is_validated_and_named(write: Write, cli: Cli) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    message = "stages.1.depth: expected an integer, got the string 'x'"
    assert_fails(cli, ["build", "spec.yaml", "--set", "stages.1.depth=x"], f"--set stages.1.depth=x: {message}")


def test_set_unknown_field(write: Write, cli: Cli) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    message = "block.tpye: unknown field 'tpye'; did you mean 'type'?"
    assert_fails(cli, ["validate", "spec.yaml", "--set", "block.tpye=basic"], f"--set block.tpye=basic: {message}")


def test_set_through_a_list_by_name(write: Write, cli: Cli) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    message = "stages.last: stages is a list: use an index, not 'last'"
    assert_fails(
        cli, ["validate", "spec.yaml", "--set", "stages.last.depth=1"], f"--set stages.last.depth=1: {message}"
    )


def test_set_without_a_value(write: Write, cli: Cli) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    message = "expected dotted.path=value, for example stages.2.depth=23"
    assert_fails(cli, ["validate", "spec.yaml", "--set", "depth"], f"--set depth: {message}")


def test_unknown_spec_name(cli: Cli) -> None:
    assert_fails(cli, ["build", "resnet05"], "no spec file or builtin spec named 'resnet05'; did you mean 'resnet50'?")


def test_usage_error_exits_2(cli: Cli) -> None:
    code, out, err = cli("validate")
    message = "netspec validate: the following arguments are required: SPEC (see netspec validate --help)\n"
    assert (code, out, err) == (2, "", message)  # one line, not the whole usage text


def test_recursive_alias(write: Write, cli: Cli) -> None:
    write("netspec: 1\nstages: &x\n  - *x\n")
    # The alias resolves to the node it sits in; the error is at that node (the anchor).
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:2:9: stages.0: an alias refers to a node that contains it")


def test_block_options_are_validated_by_the_block_types_own_model(write: Write, cli: Cli) -> None:
    write("""\
        netspec: 1
        block: {type: basic, order: pre, options: {dropout: 0.3}}
        stages:
          - {depth: 2, width: 64, stride: 1, options: {dropot: 0.2}}
          - {depth: 2, width: 128, stride: 2, options: {dropout: 1}}
        """)
    assert_fails(
        cli,
        ["validate", "spec.yaml"],
        "spec.yaml:4:48: stages.0.options.dropot: unknown field 'dropot'; did you mean 'dropout'?",
        "spec.yaml:5:58: stages.1.options.dropout: must be less than 1.0, got the integer 1",
    )


def test_options_on_a_block_type_that_has_none(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {type: bottleneck, options: {dropout: 0.3}}\n" + RESNET18_STAGES)
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:2:36: block.options: bottleneck blocks take no options")


def test_a_block_type_that_cannot_plan_the_settings_says_which_field(write: Write, cli: Cli) -> None:
    write("netspec: 1\nblock: {type: basic, order: pre, aa: blur}\n" + RESNET18_STAGES)
    message = "block.aa: blur pooling is planned for post-activation blocks only; use order: post"
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:38: {message}")


def test_regnet_design_and_stages_are_exclusive(write: Write, cli: Cli) -> None:
    write("netspec: 1\nregnet: {depth: 4, w0: 24, wa: 24.5, wm: 2.5, group_width: 8}\n" + RESNET18_STAGES)
    assert_fails(cli, ["validate", "spec.yaml"], "spec.yaml:1:1: give either regnet or stages, not both")


def test_regnet_width_must_be_quantised(write: Write, cli: Cli) -> None:
    write("netspec: 1\nregnet: {depth: 4, w0: 20, wa: 24.5, wm: 2.5, group_width: 8}\n")
    message = "regnet.w0: w0 must be a multiple of 8, as widths are quantised to 8"
    # The stages that the design would have given are not reported missing as well.
    assert_fails(cli, ["validate", "spec.yaml"], f"spec.yaml:2:24: {message}")
