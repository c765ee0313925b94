"""``python -m maml_ref download omniglot`` against a local HTTP server this test starts."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from maml_ref import download
from maml_ref.cli import main
from maml_ref.data.omniglot import load_omniglot

from .omniglot_server import ArchiveServer, md5, omniglot_zip


@pytest.fixture(scope="module")
def archives() -> dict[str, bytes]:
    """Two small archives in the original layout: 3 + 2 characters x 20 drawers."""
    rng = np.random.default_rng(0)
    images = rng.random((5, 20, 105, 105)) > 0.08  # True = background, ~8% ink
    return {
        "images_background.zip": omniglot_zip("images_background", images[:3], 1),
        "images_evaluation.zip": omniglot_zip("images_evaluation", images[3:], 965),
    }


def _sums(archives):
    return {name: md5(data) for name, data in archives.items()}


def test_it_downloads_checks_and_leaves_what_the_loader_reads(archives, tmp_path):
    with ArchiveServer(archives) as server:
        out = download.download_omniglot(
            tmp_path / "data", url=server.url, progress=False, expected_md5=_sums(archives)
        )
    assert out == tmp_path / "data"
    for name, data in archives.items():
        assert (out / name).read_bytes() == data
        assert not (out / f"{name}.part").exists()
    arr = load_omniglot(out, tmp_path / "cache")
    assert arr.shape == (5, 20, 28, 28) and arr.dtype == np.uint8
    assert 0 < arr.mean() < 128  # ink high, mostly background


def test_it_resumes_a_partial_download_with_a_range_request(archives, tmp_path):
    name = "images_background.zip"
    data = archives[name]
    (tmp_path / f"{name}.part").write_bytes(data[: len(data) // 2])
    with ArchiveServer(archives) as server:
        download.download_omniglot(
            tmp_path, url=server.url, progress=False, expected_md5=_sums(archives)
        )
    assert (tmp_path / name).read_bytes() == data
    ranges = dict(server.requests)
    assert ranges[f"/python/{name}"] == f"bytes={len(data) // 2}-"
    assert ranges["/python/images_evaluation.zip"] is None


def test_a_file_already_there_and_whole_is_not_fetched_again(archives, tmp_path):
    for name, data in archives.items():
        (tmp_path / name).write_bytes(data)
    with ArchiveServer(archives) as server:
        download.download_omniglot(
            tmp_path, url=server.url, progress=False, expected_md5=_sums(archives)
        )
    assert server.requests == []


def test_it_refuses_an_archive_whose_md5_is_not_the_published_one(archives, tmp_path):
    with ArchiveServer(archives) as server, pytest.raises(download.DownloadError) as exc:
        download.download_omniglot(tmp_path, url=server.url, progress=False)  # the real sums
    assert "68d2efa1b9178cc56df9314c21c6e718" in str(exc.value)
    assert not list(tmp_path.iterdir())  # nothing wrong is kept, not even the part


def test_offline_it_fails_at_once_saying_what_to_fetch_and_where(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(
        ["download", "omniglot", "--dir", str(tmp_path), "--base-url", f"http://127.0.0.1:{port}"]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "images_background.zip and images_evaluation.zip" in err
    assert download.BASE_URL in err and str(tmp_path) in err


def test_the_cli_takes_the_mirror_from_the_environment(archives, tmp_path, monkeypatch):
    with ArchiveServer({}) as server:  # serves nothing: a 404 names the URL it asked for
        monkeypatch.setenv("MAML_OMNIGLOT_URL", server.url)
        rc = main(["download", "omniglot", "--dir", str(tmp_path), "--quiet"])
    assert rc == 2
    assert server.requests[0][0] == "/python/images_background.zip"


def test_the_real_sums_are_the_published_ones():
    assert download.MD5 == {
        "images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
        "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811",
    }
    assert download.BASE_URL == "https://github.com/brendenlake/omniglot/raw/master/python"


def test_the_cli_checks_the_sums_given_with_md5_instead_of_the_published_ones(archives, tmp_path):
    sums = [f"--md5={name}={value}" for name, value in _sums(archives).items()]
    with ArchiveServer(archives) as server:
        args = ["download", "omniglot", "--dir", str(tmp_path), "--base-url", server.url]
        assert main([*args, "--quiet", *sums]) == 0
        assert all((tmp_path / name).read_bytes() == data for name, data in archives.items())
        wrong = tmp_path / "other"
        one = f"--md5=images_background.zip={'0' * 32}"
        assert main([*args[:3], str(wrong), *args[4:], "--quiet", one]) == 2
    assert not (wrong / "images_background.zip").exists()


@pytest.mark.parametrize("bad", ["images_background.zip", "other.zip=" + "0" * 32, "x=zz"])
def test_the_cli_refuses_a_malformed_md5_option(bad, tmp_path, capsys):
    rc = main(["download", "omniglot", "--dir", str(tmp_path), "--md5", bad])
    assert rc == 2 and "expected NAME=SUM" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
