"""The bad-input corpus: each input is refused when it is loaded, before any run starts, with one message
naming the file, the TOML line and the key (``regbench run`` exits 2)."""

import gzip
import math
import re
import textwrap

import numpy as np
import pytest
import SimpleITK as sitk
from click.testing import CliRunner

from regbench import CaseError
from regbench.cases.files import load_case_file
from regbench.cli import main
from regbench.runner.matrix import MatrixError
from regbench.runner.settings import load_run_file


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.random((64, 64)).astype(np.float32))
    for name in ("good.nii", "good.mha", "good.nii.gz", "good.nrrd"):
        sitk.WriteImage(image, str(root / name))
    for name in ("good.nii", "good.mha", "good.nii.gz"):
        data = (root / name).read_bytes()
        (root / f"cut-{name}").write_bytes(data[: int(len(data) * 0.3)])
    # A gzip stream that is whole but holds a NIfTI cut short inside it.
    raw = (root / "good.nii").read_bytes()
    (root / "inner-cut.nii.gz").write_bytes(gzip.compress(raw[: len(raw) // 2]))
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((64, 64), np.float32)), str(root / "zero.nii"))
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((1, 1), np.float32)), str(root / "one-pixel.nii"))
    sitk.WriteImage(sitk.GetImageFromArray(rng.random((12, 12)).astype(np.float32)), str(root / "small.nii"))
    mask = sitk.GetImageFromArray(np.ones((32, 32), np.uint8))
    sitk.WriteImage(mask, str(root / "other-grid-mask.nii"))
    return root


def case_file(root, text, name="cases.toml"):
    path = root / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def one_case(fixed="good.nii", moving="good.mha", setup="", extra=""):
    return f"""
[[case]]
name = "c"
fixed = "{fixed}"
moving = "{moving}"
{extra}
[case.setup]
transform = "translation"
{setup}
"""


CASES = {
    "truncated nii": (
        one_case(fixed="cut-good.nii"),
        r"cases.toml:3: case 'c': fixed image .*cut-good.nii is truncated",
    ),
    "truncated nii.gz": (
        one_case(moving="cut-good.nii.gz"),
        r"cases.toml:4: case 'c': moving image .*cut-good.nii.gz is truncated or corrupt",
    ),
    "nii.gz whose content is cut": (
        one_case(fixed="inner-cut.nii.gz"),
        r"cases.toml:3: .*fixed image .*inner-cut.nii.gz is truncated: its header promises 16384 bytes",
    ),
    "truncated mha": (
        one_case(moving="cut-good.mha"),
        r"cases.toml:4: case 'c': moving image .*cut-good.mha is truncated: its header promises 16384 bytes",
    ),
    "constant image": (
        one_case(fixed="zero.nii"),
        r"cases.toml:3: case 'c': fixed image is constant \(every pixel is 0\)",
    ),
    "1x1 image": (
        one_case(moving="one-pixel.nii"),
        r"cases.toml:4: case 'c': moving image is 1×1 voxels: every axis needs",
    ),
    "too small at the coarsest level": (
        one_case(fixed="small.nii", moving="small.nii", setup="shrink_factors = [4, 1]\nsmoothing_sigmas = [0, 0]"),
        r"cases.toml:3: case 'c': fixed image is 12×12 voxels: every axis needs at least 4 voxels at shrink factor 4",
    ),
    "histogram_bins = 0": (
        one_case(setup='metric = "mattes"\nhistogram_bins = 0'),
        r"cases.toml:\d+: setup: histogram_bins must be an integer from 5 to 4096, got 0",
    ),
    "histogram_bins = 1e8": (
        one_case(setup='metric = "mattes"\nhistogram_bins = 100000000'),
        r"histogram_bins must be an integer from 5 to 4096, got 100000000",
    ),
    "histogram_bins a float": (
        one_case(setup="histogram_bins = 1e8"),
        r"cases.toml:8: setup 'histogram_bins' must be an integer, got 100000000.0",
    ),
    "smoothing nan": (
        one_case(setup="shrink_factors = [1]\nsmoothing_sigmas = [nan]"),
        r"cases.toml:9: setup 'smoothing_sigmas' must be a list of finite numbers",
    ),
    "jitter inf": (one_case(setup="initial_jitter = inf"), r"cases.toml:8: setup 'initial_jitter' must be a finite"),
    "mask on another grid": (
        one_case(extra='fixed_mask = "other-grid-mask.nii"'),
        r"cases.toml:5: case 'c': fixed_mask does not lie on the fixed image's grid",
    ),
    "ants_radius 0": (one_case(setup='metric = "ants_nc"\nants_radius = 0'), r"ants_radius must be an integer from 1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_case_file_is_refused_at_load(corpus, name):
    text, expected = CASES[name]
    path = case_file(corpus, text)
    with pytest.raises(CaseError) as info:
        load_case_file(path)
    message = str(info.value)
    assert re.search(expected, message), message
    assert "0x" not in message and "No such file" not in message


def test_the_good_inputs_load(corpus):
    for fixed in ("good.nii", "good.nii.gz", "good.nrrd"):
        (case,) = load_case_file(case_file(corpus, one_case(fixed=fixed)))
        assert case.load().fixed.GetSize() == (64, 64)


def test_the_documented_default_mesh_scale_factors_is_accepted(corpus):
    (case,) = load_case_file(case_file(corpus, one_case(setup="mesh_scale_factors = []")))
    assert case.setup.mesh_scale_factors == ()


RUN_FILES = {
    "timeout nan": ("timeout = nan\n", r"run.toml:1: timeout must be a finite number, not nan"),
    "timeout inf": ("timeout = inf\n", r"run.toml:1: timeout must be a finite number"),
    "threads 1e20": ("threads = 100000000000000000000\n", r"run.toml:1: threads must be at most 1024"),
    "workers huge": ("workers = 1000000\n", r"run.toml:1: workers must be at most 4096"),
    "seeds huge": ("seeds = 1000000000\n", r"run.toml:1: seeds must be at most 100000"),
    "repeat huge": ("repeat = 1000000000\n", r"run.toml:1: repeat must be at most 10000"),
    "seed huge": ("seed = [1, 99999999999]\n", r"run.toml:1: seed must be at most 2147483647, not 99999999999"),
}


@pytest.mark.parametrize("name", list(RUN_FILES))
def test_a_bad_run_file_is_refused(tmp_path, name):
    text, expected = RUN_FILES[name]
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(MatrixError) as info:
        load_run_file(path)
    assert re.search(expected, str(info.value)), str(info.value)


def test_a_run_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "run.toml"
    path.write_bytes(b'strategies = ["gd"]\ncases = ["caf\xe9"]\n')
    with pytest.raises(MatrixError, match=r"run.toml:2: not a UTF-8 text file"):
        load_run_file(path)


def test_a_case_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "cases.toml"
    path.write_bytes(b'[[case]]\nname = "caf\xe9"\n')
    with pytest.raises(CaseError, match=r"cases.toml:2: cannot read the case file: not UTF-8 text"):
        load_case_file(path)


BOM = b"\xef\xbb\xbf"  # the UTF-8 byte-order mark that Windows editors write first


def test_a_run_file_starting_with_a_byte_order_mark_is_read(tmp_path):
    """It was refused as "Invalid statement"; its lines keep their numbers."""
    path = tmp_path / "run.toml"
    path.write_bytes(BOM + b'strategies = ["gd"]\ncases = ["synth2d-translation"]\n')
    assert load_run_file(path).strategies == ["gd"]
    path.write_bytes(BOM + b'strategies = ["gd"]\ncases = ["caf\xe9"]\n')
    with pytest.raises(MatrixError, match=r"run.toml:2: not a UTF-8 text file"):
        load_run_file(path)


def test_a_case_file_starting_with_a_byte_order_mark_is_read(corpus, tmp_path):
    path = tmp_path / "cases.toml"
    image = corpus / "good.nii"
    text = f'[[case]]\nname = "bom"\nfixed = "{image}"\nmoving = "{image}"\n'
    path.write_bytes(BOM + text.encode())
    assert [case.name for case in load_case_file(path)] == ["bom"]
    path.write_bytes(BOM + b'[[case]]\nname = "caf\xe9"\n')
    with pytest.raises(CaseError, match=r"cases.toml:2: cannot read the case file: not UTF-8 text"):
        load_case_file(path)


CLI = {
    "threads 1e20": (["--threads", "100000000000000000000"], "--threads"),
    "threads as 1e20": (["--threads", "1e20"], "--threads"),
    "timeout nan": (["--timeout", "nan"], "not a finite number"),
    "number_of_iterations 1e20": (["-p", "gd.number_of_iterations=100000000000000000000"], "out of range: at most"),
}


@pytest.mark.parametrize("name", list(CLI))
def test_bad_command_line_values_are_usage_errors(tmp_path, name, pm):
    args, expected = CLI[name]
    result = CliRunner().invoke(
        main,
        ["run", "-s", "gd", "-c", "synth2d-translation", "--dry-run", "--store", str(tmp_path / "s.sqlite"), *args],
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output


def test_number_of_iterations_1e20_in_a_run_file(tmp_path, pm):
    path = tmp_path / "run.toml"
    path.write_text('strategies = ["gd"]\ncases = ["synth2d-translation"]\n[params]\nnumber_of_iterations = 1e20\n')
    result = CliRunner().invoke(
        main, ["run", "--config", str(path), "--dry-run", "--store", str(tmp_path / "s.sqlite")]
    )
    assert result.exit_code == 2, result.output
    assert "number_of_iterations" in result.output and "Traceback" not in result.output
    assert math.isfinite(1.0)


@pytest.mark.parametrize(
    ("run_file", "args", "expected"),
    [
        # each was "unknown top-level key 'case_files'" (the case-file loader reading the run file) or a bare
        # "no case matches"
        ('case_files = ["run.toml"]\n', ["--config", "{run}"], "run.toml:1: case_files entry 'run.toml' is this run"),
        ('cases = ["run.toml"]\n', ["--config", "{run}"], "'run.toml' is a file name: give a case file with --cases"),
        ('case_files = ["c.toml"]\n', ["-s", "gd", "--cases", "{run}"], "run.toml:1: this is a run file (it sets"),
    ],
    ids=["case-files-lists-itself", "cases-lists-a-file", "run-file-as-case-file"],
)
def test_a_run_file_in_a_case_file_s_place_is_named_a_run_file(tmp_path, pm, run_file, args, expected):
    run = tmp_path / "run.toml"
    run.write_text(run_file)
    (tmp_path / "c.toml").write_text("")
    argv = ["run", "--dry-run", "--store", str(tmp_path / "s.sqlite"), *(a.format(run=run) for a in args)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "unknown top-level key" not in result.output
    assert "Traceback" not in result.output


def test_a_missing_plugin_module_of_a_run_file_names_the_file_line_and_key(tmp_path, pm):
    # it was "Invalid value for --plugin", an option the user never gave
    run = tmp_path / "run.toml"
    run.write_text('strategies = ["gd"]\ncases = ["synth2d-translation"]\nplugins = ["no_such_plugin_module"]\n')
    store = ["--dry-run", "--store", str(tmp_path / "s.sqlite")]
    result = CliRunner().invoke(main, ["run", "--config", str(run), *store])
    assert result.exit_code == 2, result.output
    assert f"{run}:3: plugins: plugin module 'no_such_plugin_module' failed to import" in result.output
    assert "--plugin" not in result.output and "Traceback" not in result.output
    given = CliRunner().invoke(main, ["run", "--config", str(run), "--plugin", "no_such_option_module", *store])
    assert given.exit_code == 2 and "Invalid value for --plugin: plugin module 'no_such_option_module'" in given.output
