"""Run in the peers' virtualenv (benchmarks/setup_peers.sh), not the project's: adapt the given
weights on the given episodes with learn2learn 0.2.0's MAML and write the query logits.

    python learn2learn_eval.py IN.npz OUT.npz

IN.npz: support_x, support_y, query_x, query_y (episodes, float64 images), one array per
parameter (``p:<name>``, float64) and ``config`` = [ways, shots, inner_steps, inner_lr].
OUT.npz: ``logits_float64`` and ``logits_float32`` (transductive: the query set as one batch),
``logits_float64_sides`` (float64 taking the float32 run's side at every ReLU: its ReLU masks are
recorded and replayed, so that the difference to ``logits_float32`` is round-off alone, without
the jumps where a pre-activation within round-off of 0 fell on the other side) and
``logits_single_float32`` and ``logits_single_float64`` (each query example in a batch with the
support set), each (episodes, queries, ways). learn2learn's package ``__init__`` imports
torchvision, so its MAML modules are loaded by file path, as benchmarks/maml_speed.py does.
Only this file, numpy, torch and learn2learn run here: nothing of maml_ref.
"""

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def load_learn2learn_maml():
    if "learn2learn.algorithms.maml" in sys.modules:
        return sys.modules["learn2learn.algorithms.maml"].MAML
    spec = importlib.util.find_spec("learn2learn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("learn2learn is not installed in this interpreter")
    root = Path(list(spec.submodule_search_locations)[0])
    for name, path in (("learn2learn", root), ("learn2learn.algorithms", root / "algorithms")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]  # bare packages: no __init__ (torchvision) is run
        sys.modules[name] = pkg
    for name in ("utils", "algorithms.base_learner", "algorithms.maml"):
        full = f"learn2learn.{name}"
        path = root / (name.replace(".", "/") + ("/__init__.py" if name == "utils" else ".py"))
        mspec = importlib.util.spec_from_file_location(full, path)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[full] = module
        mspec.loader.exec_module(module)
    return sys.modules["learn2learn.algorithms.maml"].MAML


class ReluSides:
    """ReLU that records its masks (``record``) or applies recorded ones (``replay``), in call
    order; plain F.relu when neither."""

    def __init__(self):
        self.masks: list[torch.Tensor] = []
        self.mode = None

    def __call__(self, x):
        if self.mode == "replay":
            return x * self.masks.pop(0).to(x.dtype)
        if self.mode == "record":
            self.masks.append(x.detach() > 0)
        return F.relu(x)


class ConvNet(nn.Module):
    """The paper's Omniglot conv-4 as a plain module: [conv 3x3 stride 2, batch norm with batch
    statistics and no scale, ReLU] x 4, spatial mean, linear head. The batch-norm shifts are
    buffers: the official inner loop (and maml_ref's) does not adapt them."""

    def __init__(self, params, dtype, relu=F.relu):
        super().__init__()
        self.relu = relu
        blocks = sum(1 for k in params if k.startswith("conv") and k.endswith("weight"))
        self.convs = nn.ModuleList()
        for i in range(1, blocks + 1):
            w = params[f"conv{i}.weight"]
            conv = nn.Conv2d(w.shape[1], w.shape[0], 3, 2, 1).to(dtype)
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(params[f"conv{i}.bias"])
            self.convs.append(conv)
            self.register_buffer(f"shift{i}", params[f"bn{i}.bias"].to(dtype).clone())
        hw = params["head.weight"]
        self.head = nn.Linear(hw.shape[1], hw.shape[0]).to(dtype)
        with torch.no_grad():
            self.head.weight.copy_(hw)
            self.head.bias.copy_(params["head.bias"])

    def forward(self, x):
        for i, conv in enumerate(self.convs, start=1):
            x = F.batch_norm(conv(x), None, None, None, getattr(self, f"shift{i}"), True, 0.0, 1e-3)
            x = self.relu(x)
        return self.head(x.mean(dim=(2, 3)))


def adapted_learners(maml, sx, sy, shots, steps):
    for t in range(sx.shape[0]):
        learner = maml.clone()
        for _ in range(steps):
            loss = F.cross_entropy(learner(sx[t]), sy[t], reduction="sum") / shots  # official
            learner.adapt(loss)
        yield t, learner


def run(data, dtype, single, relu=F.relu):
    maml_cls = load_learn2learn_maml()
    ways, shots, steps, lr = data["config"].tolist()
    params = {k[2:]: torch.from_numpy(v).to(dtype) for k, v in data.items() if k.startswith("p:")}
    maml = maml_cls(ConvNet(params, dtype, relu), lr=float(lr), first_order=False)
    sx, qx = (torch.from_numpy(data[k]).to(dtype) for k in ("support_x", "query_x"))
    sy = torch.from_numpy(data["support_y"]).long()
    out = []
    for t, learner in adapted_learners(maml, sx, sy, int(shots), int(steps)):
        with torch.no_grad():
            if single:  # each query example with the support set: no query sees another
                rows = [
                    learner(torch.cat([sx[t], qx[t, j : j + 1]]))[-1] for j in range(len(qx[t]))
                ]
                out.append(torch.stack(rows))
            else:
                out.append(learner(qx[t]))
    return torch.stack(out).double().numpy()


def main():
    data = dict(np.load(sys.argv[1]))
    sides = ReluSides()
    sides.mode = "record"
    logits32 = run(data, torch.float32, False, sides)
    sides.mode = "replay"
    logits64_sides = run(data, torch.float64, False, sides)
    assert not sides.masks, "the float64 run made other ReLU calls than the float32 one"
    np.savez(
        sys.argv[2],
        logits_float64=run(data, torch.float64, False),
        logits_float32=logits32,
        logits_float64_sides=logits64_sides,
        logits_single_float32=run(data, torch.float32, True),
        logits_single_float64=run(data, torch.float64, True),
        torch_version=np.array(torch.__version__),
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
