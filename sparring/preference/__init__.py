"""Preference self-play: the model plays against its own earlier iterate.

Game self-play (``sparring.train``) scores whole games; this half of the
family scores *responses to prompts* with a preference oracle and learns from
comparisons. One round (``rounds.py``, read top to bottom):

    tasks (tasks.py)  ->  K samples per prompt (the run's engine)  ->  oracle (oracles.py, judges.py)
        ->  targets: pairs or per-response win rates (targets.py)  ->  loss (losses.py) in the learner (learner.py)

SPIN, SPPO, DNO, SPO, SPaR and eva differ only in how the targets are built
and which loss reads them; the run directory, checkpoints, resume, metrics and
report are the game loop's.
"""
