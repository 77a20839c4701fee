"""Data-parallel learning: one learner step over N processes, equal to the one-process step.

Launched with ``accelerate launch --multi_gpu --num_processes N -m sparring train ...``
(on CPUs, where ``accelerate launch`` starts a single process unless MPI is
set up, with ``torchrun --nproc_per_node N -m sparring train ...``, which is
what accelerate runs underneath), every process builds the same model and
learner, and accelerate's ``PartialState`` joins them into one process group
(NCCL on GPUs, gloo on CPUs) with one device per process.

Who does what:

* **Rank 0 runs the loop** -- deal, play, score, credit, evaluate, checkpoint,
  exactly as one process does, with the same seeds, so its rollouts are the
  one-process rollouts. Its learner is a :class:`Leader`, which announces each
  learner call to the other ranks; they only learn, running what rank 0
  announces in :func:`follow`. (Rollout scales out with Ray workers, ``distributed.backend:
  ray``; the two combine: rank 0 drives the workers.)
* **Each learner step** is announced by rank 0 with the step's samples. Every
  rank takes its shard (:meth:`DataParallel.shard`: grouped by game, then
  round-robin; the learner sees only its :class:`~sparring.learner.GradientSync`
  side), runs its micro-batches with the loss scaled by the *global*
  sample and token counts, and the gradients are summed across ranks in one
  bucketed all-reduce before clipping and the optimizer step. The sum of the
  shards' gradients is the full batch's gradient, so every rank takes the
  one-process update (a test compares the weights with one process's, to
  float rounding) and the replicas stay bit-identical.
* **Before the first step** rank 0 broadcasts its weights and learner state
  (optimizer, scheduler, reference), so a resumed run's followers, which never
  read the checkpoint, start from it.

Why not wrap the model in ``DistributedDataParallel``: the learner runs a
game's shared rules prefix once and the rest of the batch against its cache
(``sparring.prefix``) -- two forwards per micro-batch whose count depends on
the data, which DDP's per-forward hooks (and FSDP's per-forward all-gathers)
cannot follow; and shards may hold different numbers of micro-batches. One
explicit all-reduce per optimizer step is also what DDP with ``no_sync``
accumulation costs. The price: no overlap of backward and communication.
Sharded learners (FSDP, DeepSpeed ZeRO) therefore are not wired in, and an
accelerate config asking for them is refused: the model, its gradients and
the optimizer state must fit one device per process (``model.lora`` shrinks
the last two to the adapters').
"""

from __future__ import annotations

import functools
import os
import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch

from sparring.errors import UserError
from sparring.learner import STATS, Learner

if TYPE_CHECKING:
    from sparring.config import TrainConfig
    from sparring.samples import TurnSample

BUCKET_BYTES = 64 << 20
WAIT = timedelta(hours=3)
"""Collective timeout: the other ranks wait while rank 0 plays, evaluates and checkpoints."""


class DataParallel:
    """This process's place in the group, and the collectives the learner needs (a ``GradientSync``)."""

    def __init__(self, rank: int, world: int, device: torch.device):
        self.rank = rank
        self.world = world
        self.device = device
        self._synced: weakref.WeakSet[Learner] = weakref.WeakSet()
        """Learners whose weights and state the other ranks have received (held weakly, not by id: a learner
        made after another was freed can get its id, and would then never be sent)."""
        self._released = False
        self._closed = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- the step ---------------------------------------------------------------
    def shard(self, samples: list[TurnSample]) -> list[TurnSample]:
        """This rank's samples: grouped by game (in first-seen order), then every ``world``-th one.

        Deterministic and computed locally: every rank holds the whole batch,
        so no rank needs to be told what the others take.
        """
        games = {s.game: k for k, s in reversed(list(enumerate(samples)))}
        order = sorted(range(len(samples)), key=lambda i: games[samples[i].game])
        return [samples[i] for i in order[self.rank :: self.world]]

    def all_reduce(
        self, params: list[torch.nn.Parameter], finite: bool, loss: float, sums: dict[str, float]
    ) -> tuple[bool, float]:
        """Sum gradients, loss and the learner's ``STATS`` in ``sums`` (in place) over ranks; finite only if finite on all.

        The learner's statistics are summed too, so rank 0 logs the whole batch's values.

        A parameter with no gradient on any rank keeps ``grad = None`` (AdamW
        then leaves it alone, as in one process); one with a gradient somewhere
        gets zeros where it had none, so every rank sends the same buffers.
        """
        import torch.distributed as dist

        head = [float(not finite), loss, *(sums.get(k, 0.0) for k in STATS), *(float(p.grad is not None) for p in params)]
        summed = torch.tensor(head, dtype=torch.float64, device=self.device)
        dist.all_reduce(summed)
        values = summed.tolist()
        sums.update(zip(STATS, values[2 : 2 + len(STATS)], strict=True))
        grads = []
        for p, used in zip(params, values[2 + len(STATS) :], strict=True):
            if used > 0:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
        for bucket in buckets(grads, BUCKET_BYTES):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            dist.all_reduce(flat)
            offset = 0
            for g in bucket:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        return values[0] == 0, values[1]

    # -- rank 0 leads, the others follow ----------------------------------------
    def announce(self, learner: Learner, command: str, *args: Any) -> None:
        """On rank 0: tell the other ranks to run ``learner.<command>(*args)`` too (no-op elsewhere)."""
        if not self.is_main:
            return
        self._released = False
        if learner not in self._synced:
            self._send(("sync", ()))
            self.broadcast_state(learner.model.state_dict())
            self.broadcast_state(learner.state_dict())
            self._synced.add(learner)
        self._send((command, args))

    def release(self) -> None:
        """On rank 0: the other ranks return from :func:`follow` (once; a later announce expects them back)."""
        if self.is_main and not self._released:
            self._send(("stop", ()))
            self._released = True

    def receive(self) -> tuple[str, tuple[Any, ...]]:
        box: list[Any] = [None]
        torch.distributed.broadcast_object_list(box, src=0, device=self._comm_device())
        return box[0]

    def _send(self, message: tuple[str, tuple[Any, ...]]) -> None:
        torch.distributed.broadcast_object_list([message], src=0, device=self._comm_device())

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def broadcast_state(self, state: Any = None) -> Any:
        """Rank 0's nested state (dicts, lists, tensors, numbers) on every rank: tensors by broadcast, the rest pickled.

        A tensor that lived on the CPU on rank 0 (an optimizer's step count)
        lands on the CPU, one on a GPU on this rank's GPU.
        """
        tensors: list[torch.Tensor] = []
        box = [_strip(state, tensors) if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0, device=self._comm_device())
        slots: list[_Slot] = []
        _collect(box[0], slots)
        wire = self._comm_device()
        received = []
        for k, slot in enumerate(slots):
            if self.is_main:
                buffer = tensors[k].detach().to(wire).contiguous()
            else:
                buffer = torch.empty(slot.shape, dtype=slot.dtype, device=wire)
            torch.distributed.broadcast(buffer, src=0)
            received.append(buffer if slot.on_gpu else buffer.cpu())
        return state if self.is_main else _fill(box[0], iter(received))

    def close(self, failed: bool = False) -> None:
        """Release the followers (on rank 0), then leave the process group; safe to call twice.

        ``failed``: rank 0 is going down with an error, possibly with the others
        inside a collective that will never complete -- so it sends nothing and
        just leaves; their collectives then fail and the launcher stops them.
        """
        if self._closed:
            return
        self._closed = True
        if not failed:
            self.release()
        if torch.distributed.is_initialized():
            if not failed:
                # Leave together: a rank that tears its gloo group down while a peer is still working (saving
                # its weights) can make the peer's gloo thread abort the process at exit (SIGABRT, "terminate
                # called without an active exception"), failing a run that finished.
                torch.distributed.barrier()
            torch.distributed.destroy_process_group()

    def follower_config(self, config: TrainConfig) -> TrainConfig:
        """A learning-only rank's config: ``cuda`` means its own GPU (``cuda:LOCAL_RANK``), and an HF engine
        (it never generates; a vLLM engine would only hold memory)."""
        model = config.model
        if torch.device(model.device).type == "cuda" and self.device.type == "cuda":
            model = model.model_copy(update={"device": str(self.device)})
        engine = config.engine.model_copy(update={"kind": "hf"})
        return config.model_copy(update={"model": model, "engine": engine})


def data_parallel(device: str = "cpu") -> DataParallel | None:
    """The process group when launched as N > 1 processes (``WORLD_SIZE``), else None (one process).

    ``device`` picks the backend: a CPU model learns over gloo, a GPU model over NCCL.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    sharded = [k for k in ("FSDP", "DEEPSPEED") if os.environ.get(f"ACCELERATE_USE_{k}", "").lower() == "true"]
    if sharded:
        raise UserError(
            f"the accelerate config asks for {sharded[0]}, which sparring's learner does not support: it keeps a full "
            "replica per process (see sparring/distributed/ddp.py); use a plain multi-GPU config (DDP), or model.lora"
        )
    return _join(torch.device(device).type == "cpu")


@functools.cache
def _join(cpu: bool) -> DataParallel:
    try:
        from accelerate import PartialState
    except ImportError:
        raise UserError("data-parallel training needs accelerate: pip install accelerate") from None
    state = PartialState(cpu=cpu, timeout=WAIT)
    return DataParallel(state.process_index, state.num_processes, state.device)


class Leader:
    """Rank 0's learner: each call that changes the learner is announced to the other ranks first,
    which run it too (:func:`follow`), so every replica takes the same steps."""

    def __init__(self, learner: Learner, parallel: DataParallel):
        self.learner = learner
        self.parallel = parallel

    def step(self, samples: list[TurnSample]) -> dict[str, float]:
        if samples:  # an empty batch changes nothing and is not sent
            self.parallel.announce(self.learner, "step", samples)
        return self.learner.step(samples)

    def move_reference_to_policy(self) -> None:
        self.parallel.announce(self.learner, "move_reference_to_policy")
        self.learner.move_reference_to_policy()

    def move_reference_to_best(self, average: bool) -> None:
        self.parallel.announce(self.learner, "move_reference_to_best", average)
        self.learner.move_reference_to_best(average)

    @property
    def value(self) -> Any:
        """The learned value baseline, if any: the loop reads and fits it on rank 0 only."""
        return self.learner.value

    @property
    def average(self) -> Any:
        """The weight average, if any (``learner.average_weights``): saved and evaluated on rank 0."""
        return self.learner.average

    def state_dict(self) -> dict[str, Any]:
        return self.learner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Rank 0's learner only: the other ranks receive it with the weights before the next announced call."""
        self.learner.load_state_dict(state)


def lead(learner: Learner, parallel: DataParallel | None) -> Learner | Leader:
    """The learner the loop calls: a :class:`Leader` on rank 0 of N processes, else ``learner`` itself
    (one process; or a rank > 0, which does not call it but :func:`follow` s)."""
    return Leader(learner, parallel) if parallel is not None and parallel.is_main else learner


def follow(learner: Learner) -> None:
    """Ranks > 0: run every learner call rank 0 announces, until it stops."""
    parallel = learner.parallel
    assert isinstance(parallel, DataParallel) and not parallel.is_main
    while True:
        command, args = parallel.receive()
        if command == "stop":
            return
        if command == "sync":
            learner.model.load_state_dict(parallel.broadcast_state())
            learner.load_state_dict(parallel.broadcast_state())
        else:
            getattr(learner, command)(*args)


# ----------------------------------------------------------------------------- helpers
def buckets(tensors: list[torch.Tensor], limit: int) -> list[list[torch.Tensor]]:
    """Consecutive tensors of one dtype and device, at most ``limit`` bytes a bucket (one tensor may exceed it)."""
    out: list[list[torch.Tensor]] = []
    size = 0
    for t in tensors:
        nbytes = t.numel() * t.element_size()
        if not out or size + nbytes > limit or (t.dtype, t.device) != (out[-1][0].dtype, out[-1][0].device):
            out.append([])
            size = 0
        out[-1].append(t)
        size += nbytes
    return out


class _Slot:
    """A tensor's place in a broadcast skeleton: shape, dtype, and whether it lived on a GPU."""

    def __init__(self, tensor: torch.Tensor):
        self.shape, self.dtype, self.on_gpu = tuple(tensor.shape), tensor.dtype, tensor.device.type != "cpu"


def _strip(obj: Any, tensors: list[torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors.append(obj)
        return _Slot(obj)
    if isinstance(obj, dict):
        return {k: _strip(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_strip(v, tensors) for v in obj)
    return obj


def _collect(obj: Any, out: list[_Slot]) -> None:
    """The skeleton's slots, in the order :func:`_strip` met the tensors."""
    if isinstance(obj, _Slot):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect(v, out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _collect(v, out)


def _fill(obj: Any, tensors: Any) -> Any:
    if isinstance(obj, _Slot):
        return next(tensors)
    if isinstance(obj, dict):
        return {k: _fill(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_fill(v, tensors) for v in obj)
    return obj
