"""maml_ref: the reference MAML (Finn, Abbeel & Levine, ICML 2017) in plain PyTorch."""

__version__ = "0.1.0"
