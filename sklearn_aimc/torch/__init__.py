"""PyTorch models for training in software (the optional ``torch`` extra).

Importing :mod:`sklearn_aimc` never imports this package or PyTorch; the
modules here import torch themselves.  Inference on the simulated chip is
numpy (:mod:`sklearn_aimc.performer`): trained weights are exported with
:func:`sklearn_aimc.torch.performer.export_weights`.
"""
