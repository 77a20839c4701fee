"""Scaling out: more processes for learning (accelerate) and for playing (Ray).

* :mod:`.ddp` -- the learner over N processes (``accelerate launch`` / ``torchrun``):
  rank 0 runs the loop and leads, every rank learns on its shard of the step's samples,
  gradients are summed, so the update equals the one-process update.
* :mod:`.dispatch` -- the loop's rollout object, ``play(step, plan)``: games played here, or on Ray workers.
* :mod:`.shards` -- a step's tables as plain data, cut into one shard per worker, with their seeds.
* :mod:`.ray_workers` -- the Ray actors (one engine each) and the driver's handle on them.

Nothing here imports Ray or starts a process group unless the run asks for it.
"""
