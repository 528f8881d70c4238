"""Data-parallel training on ``torch.distributed`` (pure: no widgets): ``fit_ddp`` runs the one loop
(``workbench.train.fit``) on several processes, the model wrapped in ``DistributedDataParallel``."""

from .ddp import DDPResult, DistributedError, fit_ddp, linear_scaling

__all__ = ["DDPResult", "DistributedError", "fit_ddp", "linear_scaling"]
