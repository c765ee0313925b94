"""Which device a worker's runs use (evaluator/device.py), the line a worker logs at start, and a
run on a worker whose configured device is absent: failed with the reason, never run on the CPU
in its place. (On a machine with a GPU, tests/maml_ref/test_gpu.py checks the CUDA pick.)"""

import logging

import pytest
import torch

from evaluator.device import DeviceUnavailable, log_worker_device, worker_device
from evaluator.models import Run
from evaluator.tasks import verify_run
from tests.evaluator.test_tasks import fake_maml, submit  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="these expect no CUDA device")


def test_unset_it_picks_the_cpu_where_no_cuda_exists(settings):
    settings.MAML_DEVICE = None
    assert worker_device() == "cpu"


@pytest.mark.parametrize(
    ("wanted", "message"),
    [("cuda", "has no CUDA device"), ("cuda:1", "has no CUDA device"), ("tpu9", "not a torch")],
)
def test_a_configured_device_that_is_absent_is_refused(settings, wanted, message):
    settings.MAML_DEVICE = wanted
    with pytest.raises(DeviceUnavailable, match=message):
        worker_device()


def test_the_worker_says_at_start_which_device_and_queues(settings, caplog):
    caplog.set_level(logging.INFO)
    settings.MAML_DEVICE = None
    assert log_worker_device(logging.getLogger("t"), ["gpu"]) == "cpu"
    line = caplog.records[-1].getMessage()
    assert line.startswith("worker for queue(s) gpu: maml_ref runs on cpu (")
    assert f"{torch.get_num_threads()} torch threads" in line
    settings.MAML_DEVICE = "cuda"
    assert log_worker_device(logging.getLogger("t"), ["gpu"]) is None
    assert caplog.records[-1].levelno == logging.ERROR
    assert "no usable device" in caplog.records[-1].getMessage()


@pytest.mark.django_db
def test_a_run_on_a_worker_without_its_device_fails_with_the_reason(settings, submit, fake_maml):  # noqa: F811
    settings.MAML_DEVICE = "cuda"
    run = submit().current_run
    assert verify_run.apply(args=[run.pk]).get() == Run.Status.FAILED
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "MAML_DEVICE='cuda' but this machine has no CUDA device" in run.reason
    assert fake_maml.calls == []  # nothing ran, on the CPU or elsewhere
