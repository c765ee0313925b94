"""The benchmark protocols of the MAML paper, one frozen dataclass each.

Sources: Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
Networks", ICML 2017 (arXiv:1703.03400), Table 1, Figure 2 and appendix A.1; the official code
(github.com/cbfinn/maml: main.py, maml.py, data_generator.py, utils.py).

Step sizes are the paper's and the official code's, applied to the official loss: for
classification the per-example cross-entropy summed over the set and divided by the examples per
class (``utils.xent``: ``softmax_cross_entropy_with_logits(...) / update_batch_size``), so one inner
step of size ``alpha`` on it equals a step of ``alpha * ways`` on the mean cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Arch:
    """The network of a protocol (see ``maml_ref.model``)."""

    kind: str  # "conv" (4 conv blocks, then a linear head) or "mlp" (fully connected, ReLU)
    in_channels: int = 1  # image channels (conv) or input features (mlp)
    image_size: int = 28  # input height = width in pixels (conv)
    filters: int = 64  # channels of every conv block (conv)
    blocks: int = 4  # number of conv blocks (conv)
    stride: int = 2  # conv stride; 1 together with max_pool (conv)
    max_pool: bool = False  # 2x2 max-pool after each block, flatten before the head (conv)
    hidden: tuple[int, ...] = ()  # hidden layer widths (mlp)
    out_features: int = 5  # classes (conv) or outputs (mlp)
    bn_eps: float = 1e-3  # batch-norm epsilon: tf.contrib.layers.batch_norm's default
    activation: str = "relu"  # "relu" (the paper) or "tanh" (smooth, for finite-difference tests)


@dataclass(frozen=True)
class Protocol:
    """One benchmark: its data, network, test-time adaptation and the paper's training recipe."""

    name: str  # registry key, e.g. "omniglot-5w1s"
    dataset: str  # "omniglot" | "sinusoid" | "miniimagenet"
    ways: int  # classes per episode (1 for regression)
    shots: int  # support examples per class at test (K)
    metric: str  # "accuracy" (percent, 0-100) or "mse"
    higher_is_better: bool  # True for accuracy, False for mse
    arch: Arch  # the network
    paper_value: float | None  # the paper's figure for this exact protocol, if it reports one
    # Evaluation (fixed episodes).
    test_queries: int  # query examples per class in a test episode (official: K)
    test_episodes: int = 600  # episodes averaged for the reported figure
    eval_seed: int = 20170306  # seed of the fixed test episodes (same on every run and machine)
    inner_steps_test: int = 3  # gradient steps on the support set at test
    inner_lr_test: float = 0.4  # step size at test, on the official loss
    # Meta-training (the paper's recipe; every field overridable in TrainConfig).
    train_shots: int = 1  # support examples per class in training
    train_queries: int = 1  # query examples per class in training (official: K)
    meta_batch: int = 32  # tasks per meta-update
    inner_steps_train: int = 1  # gradient steps in the inner loop in training
    inner_lr_train: float = 0.4  # inner step size in training, on the official loss
    meta_lr: float = 1e-3  # Adam learning rate of the meta-update
    iterations: int = 60_000  # meta-updates
    first_order: bool = False  # drop the second-derivative term (fo-MAML)
    # Training tasks: 0 draws fresh ones every iteration (maml_ref's default); N > 0 cycles through
    # a fixed pool of N pre-generated tasks, as the official code does for images (200,000).
    task_pool: int = 0
    grad_clip: float | None = None  # clip each meta-gradient element to [-c, c] (miniImageNet)
    # Data split (classes, shuffled by split_seed; alphabets ignored as in the official code).
    split: tuple[int, int] = (1100, 100)  # meta-train, meta-validation classes; rest is test
    split_seed: int = 1  # seed of the class shuffle
    rotate: bool = True  # rotate each class by a random multiple of 90 degrees (Omniglot)
    notes: str = field(default="", compare=False)  # what a reader should know

    @property
    def is_classification(self) -> bool:
        return self.metric == "accuracy"


def _omniglot(ways: int, shots: int, paper: float) -> Protocol:
    five = ways == 5
    return Protocol(
        name=f"omniglot-{ways}w{shots}s",
        dataset="omniglot",
        ways=ways,
        shots=shots,
        metric="accuracy",
        higher_is_better=True,
        arch=Arch(kind="conv", out_features=ways),
        paper_value=paper,
        test_queries=shots,
        inner_steps_test=3 if five else 5,
        inner_lr_test=0.4 if five else 0.1,
        train_shots=shots,
        train_queries=shots,
        meta_batch=32 if five else 16,
        inner_steps_train=1 if five else 5,
        inner_lr_train=0.4 if five else 0.1,
        notes="Paper Table 1 (MAML, conv). Step sizes on the official K-summed loss.",
    )


def _miniimagenet(shots: int, paper: float, test_queries: int | None = None) -> Protocol:
    """The official miniImageNet protocol (cbfinn/maml ``main.py``): training episodes of K + 15
    examples per class (``DataGenerator(update_batch_size + 15, ...)``), test episodes of 2K
    (``DataGenerator(update_batch_size * 2, ...)``): K queries per class at test, the setting of
    the paper's Table 1 (48.70 with 1 query, 63.11 with 5). ``test_queries`` = 15 is the variant
    later papers evaluate with (a public reproduction measured about 2.5 points less for 1-shot
    with it); it is its own protocol, named ``...-q15``, so a figure always records which ran.
    The loss divides by K for support and query alike (``maml_ref.maml``); the meta-gradient is
    clipped at +-10 on that scale."""
    official = test_queries is None
    suffix = "" if official else f"-q{test_queries}"
    return Protocol(
        name=f"miniimagenet-5w{shots}s{suffix}",
        dataset="miniimagenet",
        ways=5,
        shots=shots,
        metric="accuracy",
        higher_is_better=True,
        arch=Arch(
            kind="conv",
            in_channels=3,
            image_size=84,
            filters=32,
            stride=1,
            max_pool=True,
            out_features=5,
        ),
        paper_value=paper if official else None,
        test_queries=shots if official else test_queries,
        inner_steps_test=10,
        inner_lr_test=0.01,
        train_shots=shots,
        train_queries=15,
        meta_batch=4 if shots == 1 else 2,
        inner_steps_train=5,
        inner_lr_train=0.01,
        grad_clip=10.0,
        split=(64, 16),
        rotate=False,
        notes=(
            "Paper Table 1 (MAML), as the official code evaluates: K queries per class. "
            "Ravi & Larochelle split: 64/16/20 classes."
            if official
            else f"Not the paper's protocol: {test_queries} test queries per class (the paper's "
            f"figure used K = {shots}). Ravi & Larochelle split: 64/16/20 classes."
        ),
    )


def _sinusoid() -> Protocol:
    return Protocol(
        name="sinusoid-10shot",
        dataset="sinusoid",
        ways=1,
        shots=10,
        metric="mse",
        higher_is_better=False,
        arch=Arch(kind="mlp", in_channels=1, hidden=(40, 40), out_features=1),
        paper_value=None,
        test_queries=10,
        inner_steps_test=10,
        inner_lr_test=0.01,
        train_shots=10,
        train_queries=10,
        meta_batch=25,
        inner_steps_train=1,
        inner_lr_train=0.01,
        iterations=70_000,
        split=(0, 0),
        rotate=False,
        notes="Section 5.1: amplitude U[0.1,5], phase U[0,pi], x U[-5,5]; MSE on K query points.",
    )


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        _omniglot(5, 1, 98.7),
        _omniglot(5, 5, 99.9),
        _omniglot(20, 1, 95.8),
        _omniglot(20, 5, 98.9),
        _sinusoid(),
        _miniimagenet(1, 48.70),
        _miniimagenet(5, 63.11),
        _miniimagenet(1, 48.70, test_queries=15),
        _miniimagenet(5, 63.11, test_queries=15),
    )
}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; KeyError listing the known names otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        known = ", ".join(PROTOCOLS)
        raise KeyError(f"unknown protocol {name!r}; known protocols: {known}") from None
