"""Overrides that shrink any recipe to a training run a test can afford.

Six games a step, two-game evaluations only when a test asks, eight new
tokens a turn, no TensorBoard. Test files add what they need on top
(checkpoint cadence, replays, max_steps).
"""

TINY_RUN = [
    "rollout.games_per_step=6",
    "eval.games=2",
    "eval.every=0",
    "logging.tensorboard=false",
    "sampling.max_new_tokens=8",
]
