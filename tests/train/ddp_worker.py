"""Run under ``torchrun --nproc_per_node 2``: a few DDP (gloo, CPU) steps of the tiny network.

Usage: ``torchrun ... ddp_worker.py DATA_ROOT OUT_DIR``; each rank writes ``OUT_DIR/rank<r>.json``
with the sample indices and sequences it trained on.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from helpers import small_config  # noqa: E402
from rtstrack.train.trainer import RunOptions, Trainer  # noqa: E402

if __name__ == "__main__":
    torch.set_num_threads(1)
    data_root, out = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = small_config(steps_per_epoch=2, batch_size=4, epochs=1)
    trainer = Trainer(cfg, RunOptions(data_root=data_root, out_dir=out, device="cpu", progress=False))
    result = trainer.fit()
    rank = dist.get_rank()
    (out / f"rank{rank}.json").write_text(
        json.dumps({"world_size": dist.get_world_size(), "history": result.history})
    )
    dist.destroy_process_group()
