"""Multi-device training: the process layout, the process group and the launch (spawn or torchrun).

Quantities
----------
world size ``W``
    Training processes in all: ``devices x num_nodes``, one device (GPU, or a share of the CPU
    cores) each.  Process ``rank`` in ``0 .. W-1``; rank 0 (the *main* process) alone writes
    files (``config.toml``, ``run.json``, ``metrics.csv``, checkpoints) and shows progress.
global batch ``B``
    Frames per optimiser step over all processes (:attr:`~euv2mag.model.config.TrainConfig.batch`);
    each process takes ``B / W`` consecutive frames of the step (its shard).  Every frame is
    normalised by its own BatchNorm statistics (KPL19 at batch 1), whatever the layout, so ``W``
    processes at ``B`` train the same model as one process at ``B`` up to float rounding.

Launch
------
* ``devices = num_nodes = 1`` and no torchrun environment: one process, no process group.
* ``devices = N > 1`` on one node without torchrun: :func:`spawn` starts ``N`` processes
  (``torch.multiprocessing``, start method "spawn") that rendezvous on a free TCP port of
  127.0.0.1; GPUs are ``cuda:0 .. cuda:N-1``, CPU processes get ``threads // N`` intra-op threads.
* Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
  ``MASTER_PORT`` set): the process joins the group torchrun describes (``env://``); this is the
  way to train on several nodes (``--num-nodes``).

Backends: NCCL on GPUs, gloo on CPUs.  Gradients are averaged by
:class:`torch.nn.parallel.DistributedDataParallel`; see :mod:`euv2mag.model.train`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import socket
from typing import Callable

import torch

from ..errors import UserError

__all__ = ["DistContext", "LaunchPlan", "plan_launch", "torchrun_env", "process_group", "spawn", "on_main"]

#: How long a collective waits for the slowest process (rank 0 validating, writing a checkpoint).
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class DistContext:
    """Where this process stands in a training job.

    Attributes
    ----------
    rank, world_size : int
        This process's rank and the number of processes (1: not distributed).
    local_rank : int
        Rank on this node (selects the GPU ``cuda:local_rank``).
    device : torch.device
        This process's device.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process (a process group is initialised)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (nothing when not distributed)."""
        if self.distributed:
            torch.distributed.barrier()

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``values`` over all processes (float64 on this device)."""
        if not self.distributed:
            return values
        out = values.to(self.device, torch.float64)
        torch.distributed.all_reduce(out)
        return out.cpu()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any process."""
        return bool(self.sum(torch.tensor([float(flag)], dtype=torch.float64))[0] > 0)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in DistributedDataParallel (itself when not distributed).

        Buffers are not broadcast (``broadcast_buffers=False``): each process keeps the BatchNorm
        running statistics of its own frames; those of rank 0 are saved.
        """
        if not self.distributed:
            return module
        import inspect

        ddp = torch.nn.parallel.DistributedDataParallel
        # no buffer sync in the forward passes (torch >= 2.13 names the option forward_sync_buffers)
        sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters
                else "broadcast_buffers")
        ids = [self.device.index] if self.device.type == "cuda" else None
        return ddp(module, device_ids=ids, **{sync: False})


@dataclasses.dataclass(frozen=True)
class LaunchPlan:
    """How a training job runs: ``kind`` "single", "spawn" or "torchrun"; ``world_size``;
    ``device_type`` "cpu" or "cuda"; ``threads`` (intra-op threads of a spawned CPU process)."""

    kind: str
    world_size: int
    devices: int
    device_type: str
    threads: int = 1

    @property
    def backend(self) -> str:
        return "nccl" if self.device_type == "cuda" else "gloo"


def torchrun_env() -> dict | None:
    """``rank``, ``world_size``, ``local_rank`` and ``local_world_size`` from torchrun's variables.

    Returns
    -------
    dict or None
        None when ``RANK`` and ``WORLD_SIZE`` are not both set (not launched by torchrun).

    Raises
    ------
    UserError
        A variable that is not an integer.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    out = {}
    for key, default in (("RANK", None), ("WORLD_SIZE", None), ("LOCAL_RANK", "0"), ("LOCAL_WORLD_SIZE", None)):
        text = os.environ.get(key, default if default is not None else os.environ["WORLD_SIZE"])
        try:
            out[key.lower()] = int(text)
        except ValueError:
            raise UserError(f"environment variable {key}={text!r} is not an integer") from None
    return out


def plan_launch(devices: int = 1, num_nodes: int = 1, device: str = "auto") -> LaunchPlan:
    """Check a device layout and say how to launch it.

    Parameters
    ----------
    devices : int
        Processes (GPUs, or CPU process shares) per node.
    num_nodes : int
        Nodes; more than one needs torchrun on every node.
    device : {"auto", "cpu", "cuda"}
        ``auto``: CUDA when a GPU is present, else the CPU.

    Returns
    -------
    LaunchPlan

    Raises
    ------
    UserError
        ``devices`` or ``num_nodes`` < 1; more CUDA devices than visible; more CPU processes
        than cores; several nodes without torchrun; a torchrun world that is not
        ``devices x num_nodes``.
    """
    from .train import resolve_device

    if int(devices) < 1:
        raise UserError(f"must be >= 1, got {devices}", parameter="devices")
    if int(num_nodes) < 1:
        raise UserError(f"must be >= 1, got {num_nodes}", parameter="num_nodes")
    devices, num_nodes = int(devices), int(num_nodes)
    kind = resolve_device(device).type
    if kind == "cuda" and devices > torch.cuda.device_count():
        raise UserError(f"{devices} asked for, but {torch.cuda.device_count()} CUDA GPU(s) are visible on this node",
                        parameter="devices")
    cores = os.cpu_count() or 1
    if kind == "cpu" and devices > cores:
        raise UserError(f"{devices} CPU processes asked for, but this node has {cores} cores", parameter="devices")
    world = devices * num_nodes
    env = torchrun_env()
    if env is not None:
        if env["world_size"] != world or env["local_world_size"] != devices:
            raise UserError(
                f"torchrun started {env['world_size']} processes ({env['local_world_size']} per node) but "
                f"devices x num_nodes = {devices} x {num_nodes}; give torchrun's --nproc-per-node and --nnodes "
                f"as --devices and --num-nodes", parameter="devices")
        return LaunchPlan("torchrun" if world > 1 else "single", world, devices, kind)
    if num_nodes > 1:
        raise UserError("training on several nodes needs torchrun on every node (see the docs, 'Multi-device training')",
                        parameter="num_nodes")
    if world == 1:
        return LaunchPlan("single", 1, 1, kind)
    return LaunchPlan("spawn", world, devices, kind, threads=max(1, torch.get_num_threads() // devices))


@contextlib.contextmanager
def process_group(plan: LaunchPlan, rank: int | None = None, init_method: str | None = None):
    """Join the process group of ``plan`` for the block and yield this process's :class:`DistContext`.

    Parameters
    ----------
    plan : LaunchPlan
        From :func:`plan_launch`.
    rank : int, optional
        This process's rank (spawned processes); torchrun's ``RANK`` otherwise.
    init_method : str, optional
        Rendezvous address (``tcp://127.0.0.1:PORT`` for spawned processes; default ``env://``).
    """
    if plan.kind == "single":
        yield DistContext(device=torch.device(plan.device_type))
        return
    env = torchrun_env() if rank is None else None
    rank = env["rank"] if env is not None else int(rank)
    local_rank = env["local_rank"] if env is not None else rank
    device = torch.device("cuda", local_rank) if plan.device_type == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.distributed.init_process_group(plan.backend, init_method=init_method or "env://", rank=rank,
                                         world_size=plan.world_size, timeout=COLLECTIVE_TIMEOUT)
    try:
        yield DistContext(rank=rank, world_size=plan.world_size, local_rank=local_rank, device=device)
    finally:
        torch.distributed.destroy_process_group()


@contextlib.contextmanager
def on_main(ctx: DistContext, factory: Callable[[], contextlib.AbstractContextManager]):
    """Enter ``factory()`` on rank 0 only (a writer lock); every process fails if rank 0 cannot.

    A :class:`UserError` raised on rank 0 while entering is re-raised there; the other processes
    raise a one-line :class:`UserError` pointing at it instead of waiting forever.
    """
    if not ctx.distributed:
        with factory():
            yield
        return
    stack, error = contextlib.ExitStack(), None
    if ctx.is_main:
        try:
            stack.enter_context(factory())
        except UserError as exc:
            error = exc
    if ctx.any(error is not None):
        stack.close()
        raise error or UserError("the main training process (rank 0) stopped; see its message")
    with stack:
        yield


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawned(rank: int, plan: LaunchPlan, port: int, fn: Callable, args: tuple, kwargs: dict, queue) -> None:
    """Body of a spawned process: join the group, run ``fn(..., dist=ctx)``, report to the parent."""
    import sys

    if plan.device_type == "cpu":
        torch.set_num_threads(plan.threads)
    reported = []

    def report(exc: UserError) -> None:
        queue.put(("error", rank, exc.problem, exc.path, exc.parameter))
        reported.append(exc)

    try:
        with process_group(plan, rank, init_method=f"tcp://127.0.0.1:{port}") as ctx:
            try:
                result = fn(*args, **kwargs, dist=ctx)
            except UserError as exc:
                report(exc)  # now: leaving the group may wait for peers that have stopped, and be cut short
                raise
    except UserError as exc:
        if not reported:  # the group itself refused
            report(exc)
        sys.exit(2)
    if rank == 0:
        queue.put(("ok", rank, result))


#: Seconds the other processes get to stop by themselves once one has failed (their own message,
#: e.g. the same refusal, or the collective error that the first one's exit causes) before SIGTERM.
FAILURE_GRACE_S = 5.0


def spawn(plan: LaunchPlan, fn: Callable, *args, **kwargs):
    """Run ``fn(*args, **kwargs, dist=ctx)`` in ``plan.world_size`` new processes on this node.

    Parameters
    ----------
    plan : LaunchPlan
        A "spawn" plan from :func:`plan_launch`.
    fn : callable
        A module-level function (it is pickled by name) taking a ``dist`` keyword.

    Returns
    -------
    object
        What ``fn`` returned on rank 0.

    Raises
    ------
    UserError
        Re-raised from a process that raised one (the lowest rank's when several did), whatever
        the others did after it (an exit, a collective that failed because a peer left): one line
        for the user, no traceback, and torch's notes on stopping the other processes are not
        shown.  Any other failure with no :class:`UserError` behind it is raised as torch reports
        it (``ProcessRaisedException`` with the process's traceback, or ``ProcessExitedException``).
    """
    import logging

    import torch.multiprocessing as mp

    queue = mp.get_context("spawn").SimpleQueue()
    port = _free_port()
    context = mp.start_processes(_spawned, args=(plan, port, fn, args, kwargs, queue), nprocs=plan.world_size,
                                 join=False, start_method="spawn")
    notes = logging.getLogger("torch.multiprocessing.spawn")  # "Terminating process N via signal SIGTERM"
    level = notes.level
    notes.setLevel(logging.ERROR)
    try:
        while not context.join(grace_period=FAILURE_GRACE_S):
            pass
    except (mp.ProcessExitedException, mp.ProcessRaisedException):
        # every process has ended by now (torch joined them), so every message is in the queue
        errors = []
        while not queue.empty():
            msg = queue.get()
            if msg[0] == "error":
                errors.append(msg)
        if errors:  # rank 0's message first: the others may only say that rank 0 stopped
            msg = min(errors, key=lambda m: m[1])
            raise UserError(msg[2], path=msg[3], parameter=msg[4]) from None
        raise
    finally:
        notes.setLevel(level)
    while not queue.empty():
        msg = queue.get()
        if msg[0] == "ok":
            return msg[2]
    raise RuntimeError("the training processes ended without a result from rank 0")
