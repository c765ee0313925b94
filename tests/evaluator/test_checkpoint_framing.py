"""No valid checkpoint refused: the same weights with metadata of every length from 0 to 300 bytes.

The safetensors library pads its header to a multiple of 8 bytes, so its files give the header
length every multiple of 8 (0x80 among them, the byte the old check took for a pickle opcode);
a writer that does not pad (the format allows it) gives every value, so here every low byte of
the length occurs. For each file ``read_framing`` gives its header length, it loads through
``maml_ref.checkpoint`` and the site's upload check (what ``POST /api/submissions/`` and the
form call) accepts it; a handful, the lengths whose first byte looks like a pickle or a zip among
them, go through ``POST /api/submissions/`` itself; a sample is evaluated by ``maml_ref
evaluate --json`` (the command line, called in process: tests/maml_cli.py).
"""

import functools
import json
import struct
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from safetensors.torch import save as st_save

from evaluator.models import Run, Submission
from evaluator.validation.checkpoints import check_checkpoint
from maml_ref.checkpoint import FRAMING_BYTES, FramingError, load_checkpoint, read_framing
from maml_ref.protocols import get_protocol
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import tensors_for, upload
from tests.maml_cli import run_cli
from tests.maml_ref.conftest import omniglot_dir

LENGTHS = range(0, 301)
PROTOCOL = "omniglot-5w1s"


@functools.cache
def weights() -> dict:
    """The protocol's weights, drawn once (each file below holds the same ones)."""
    return tensors_for(PROTOCOL)


def library_file(length: int) -> bytes:
    """The weights as safetensors writes them, with ``length`` bytes of metadata text."""
    return st_save(weights(), metadata={"note": "m" * length})


def exact_file(length: int) -> bytes:
    """The same file with its header unpadded: the header length moves one byte at a time."""
    raw = library_file(length)
    (n,) = struct.unpack("<Q", raw[:8])
    header = raw[8 : 8 + n].rstrip(b" ")
    return struct.pack("<Q", len(header)) + header + raw[8 + n :]


def files():
    for length in LENGTHS:
        yield f"lib-{length}", library_file(length)
        yield f"exact-{length}", exact_file(length)


def header_length(raw: bytes) -> int:
    return struct.unpack("<Q", raw[:8])[0]


def test_the_lengths_cover_every_low_byte_and_the_pickle_opcode():
    exact = {header_length(exact_file(n)) & 0xFF for n in LENGTHS}
    assert exact == set(range(256))
    assert 0x80 in {header_length(library_file(n)) & 0xFF for n in LENGTHS}


def test_read_framing_gives_the_header_length_of_every_file():
    for name, raw in files():
        assert read_framing(raw[:FRAMING_BYTES], len(raw), name) == header_length(raw), name


def test_the_upload_check_accepts_the_weights_with_metadata_of_every_length():
    """The check ``POST /api/submissions/`` and the form run on a checkpoint (the API itself
    takes a handful, below), with the benchmark's protocol as the API gives it."""
    for name, raw in files():
        summary = check_checkpoint(upload(raw, f"{name}.safetensors"), PROTOCOL)
        assert summary.parameter_count == sum(t.numel() for t in weights().values()), name


def api_sample():
    """A handful of files for the API: the shortest and longest metadata of both writers, and
    the lengths whose first byte is the pickle opcode (0x80), "P" (of a zip's "PK") or "{"."""
    exact = {raw_first(exact_file(n)): n for n in reversed(LENGTHS)}
    library = {raw_first(library_file(n)): n for n in reversed(LENGTHS)}
    picked = [("lib", 0), ("lib", LENGTHS[-1]), ("exact", 0), ("exact", LENGTHS[-1])]
    picked += [("exact", exact[b]) for b in (0x80, 0x50, 0x7B)] + [("lib", library[0x80])]
    return [
        (f"{kind}-{n}", (exact_file if kind == "exact" else library_file)(n))
        for kind, n in dict.fromkeys(picked)
    ]


def test_maml_ref_loads_the_weights_with_metadata_of_every_length(tmp_path):
    protocol = get_protocol(PROTOCOL)
    expected = weights()
    for name, raw in files():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(raw)
        ckpt = load_checkpoint(path, protocol)
        assert set(ckpt.params) == set(expected), name
        assert all(ckpt.params[k].equal(v) for k, v in expected.items()), name


def test_a_file_starting_with_the_pickle_opcode_but_framed_is_safetensors():
    raw = next(exact_file(n) for n in LENGTHS if raw_first(exact_file(n)) == 0x80)
    assert read_framing(raw[:9], len(raw)) == header_length(raw)
    with pytest.raises(FramingError) as info:
        read_framing(b"\x80\x04\x95" + b"\0" * 6, 1000)
    assert info.value.kind == "pickle"


def raw_first(raw: bytes) -> int:
    return raw[0]


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Submissions of one user: the per-user throttle and active-run cap are tested in
    # tests/evaluator/test_limits.py.
    settings.SUBMISSION_RATE = settings.SUBMISSION_ATTEMPT_RATE = "100000/hour"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 0, "gpu": 0}


def test_the_api_accepts_the_weights_with_metadata_of_a_handful_of_lengths(
    api, omniglot, paper, django_capture_on_commit_callbacks
):
    sample = api_sample()
    assert {raw_first(raw) for _, raw in sample} >= {0x80, 0x50, 0x7B}
    accepted = 0
    for name, raw in sample:
        with django_capture_on_commit_callbacks():  # nothing sent to the broker
            r = api.post(
                "/api/submissions/",
                {
                    "benchmark": omniglot.slug,
                    "metric": "Accuracy",
                    "claimed_value": "48.7",
                    "model_name": f"MAML {name}",
                    "paper": paper.slug,
                    "checkpoint": upload(raw, f"{name}.safetensors"),
                },
                format="multipart",
            )
        assert r.status_code == 201, (name, header_length(raw), r.content)
        sub = Submission.objects.get(pk=r.json()["id"])
        assert Path(sub.checkpoint.path).read_bytes() == raw
        # Out of the way of any cap on active runs: this test is about the upload check.
        Run.objects.filter(submission=sub).update(status=Run.Status.CANCELLED)
        accepted += 1
    assert accepted == len(sample) >= 7
    assert Submission.objects.count() == accepted


def test_the_cli_evaluates_files_whose_length_starts_like_a_pickle(tmp_path):
    data = omniglot_dir()
    if data is None:
        pytest.skip("Omniglot data not found: set MAML_DATA_DIR")
    sample = [("base", exact_file(0))]
    sample += [(f"exact-{n}", exact_file(n)) for n in LENGTHS if exact_file(n)[0] in (0x80, 0x50)][
        :2
    ]
    sample += [(f"lib-{n}", library_file(n)) for n in LENGTHS if library_file(n)[0] == 0x80][:1]
    assert {raw[0] for _, raw in sample[1:]} >= {0x80}
    means = {}
    for name, raw in sample:
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(raw)
        out = run_cli(
            *("evaluate", "--checkpoint", str(path), "--protocol", PROTOCOL, "--episodes", "4"),
            *("--json", "--quiet", "--device", "cpu", "--threads", "1", "--data-dir", str(data)),
        )
        assert out.returncode == 0, out.stderr[-2000:]
        means[name] = json.loads(out.stdout.strip().splitlines()[-1])["mean"]
    assert len(set(means.values())) == 1, means  # the same weights: the same figure
