"""maml_ref: the reference MAML (Finn, Abbeel & Levine, ICML 2017) in plain PyTorch."""

__version__ = "0.2.0"  # 0.2.0: the evaluation adapts each episode in float64
