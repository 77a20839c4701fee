"""sparring: train language models by self-play.

The package is laid out one room per concern (see ``shared/DESIGN.md``):
``games`` (what is played), ``players`` (who picks a move), ``evaluate`` (how
well they play), and, built on those, the language-model engine, rollout,
advantages, learner and training loop.
"""

__version__ = "0.1.0"
