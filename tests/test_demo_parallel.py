"""The demo's stage runner: dependencies, one thread per call, failures in one line (euv2mag.demo._execute)."""
from __future__ import annotations

import json
import os
import shutil
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from _model_data import make_pair_store, write_split

from euv2mag.data.store import FrameStore
from euv2mag.demo import _execute, _Stage, _Stages, _timed, _train_call, _worker_init, demo_options
from euv2mag.errors import UserError
from euv2mag.report.layout import StudyLayout


@pytest.fixture(scope="module")
def tiny_store_and_split(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    store = make_pair_store(d / "pairs.zarr", n_frames=5, size=32)
    times = [str(t) for t in FrameStore(store).times]
    return str(store), str(write_split(d / "split.json", [0, 1, 2], [3], [4], times=times))


def _stages(tmp_path):
    lay = StudyLayout(tmp_path)
    return lay, _Stages(lay, demo_options(quick=True))


def test_a_stage_starts_after_what_it_needs_and_each_call_has_one_thread(tmp_path):
    lay, stages = _stages(tmp_path)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    threads = []
    plan = [
        # listed first, but needs "write": its copy fails unless "write" finished before it started
        _Stage("copy", "copy", [b], (partial(shutil.copyfile, a, b),), lambda: [["copy"]], needs=("write",)),
        _Stage("write", "write", [a], (partial(Path.write_text, a, "1"),), lambda: [["write"]]),
        _Stage("threads", "threads", [], (torch.get_num_threads, torch.get_num_threads), lambda: [],
               finish=threads.extend),
    ]
    order = ["write", "copy", "threads"]
    _execute(plan, stages, lay, 2, order)
    assert b.read_text() == "1" and threads == [1, 1]
    record = json.loads(lay.stages.read_text())
    assert list(record["stages"]) == order  # kept in the study's order, whatever order they finished in
    assert all(s["status"] == "done" and s["seconds"] >= 0 for s in record["stages"].values())
    assert record["stages"]["copy"]["commands"] == ["euv2mag copy"]
    # done stages are skipped on the next run: nothing is recomputed
    a.write_text("2")
    _execute(plan, stages, lay, 2, order)
    assert b.read_text() == "1"


def test_a_free_process_takes_the_first_ready_call_in_plan_order(tmp_path, capsys):
    """One process: "late" is ready only once "gate" is done, yet goes before "filler", ready from
    the start (the control's training before the studies); a call with its own needs waits for
    them alone, and its stage starts with its first call."""
    lay, stages = _stages(tmp_path)
    f = {name: tmp_path / f"{name}.txt" for name in ("gate", "late", "filler", "calls-0", "calls-1", "after")}
    plan = [
        _Stage("gate", "gate", [f["gate"]], (partial(Path.write_text, f["gate"], "g"),), lambda: []),
        _Stage("late", "late", [f["late"]], (partial(shutil.copyfile, f["gate"], f["late"]),), lambda: [],
               needs=("gate",)),
        _Stage("filler", "filler", [f["filler"]], (partial(Path.write_text, f["filler"], "f"),), lambda: []),
        # call 0 copies what "late" wrote (it fails unless "late" is done); call 1 needs nothing
        _Stage("calls", "calls", [f["calls-0"], f["calls-1"]],
               (partial(shutil.copyfile, f["late"], f["calls-0"]), partial(Path.write_text, f["calls-1"], "c")),
               lambda: [], call_needs=(("late",), ())),
        # needs one call of another stage ("stage:k"), also when that stage was done by an earlier run
        _Stage("after", "after", [f["after"]], (partial(shutil.copyfile, f["gate"], f["after"]),), lambda: [],
               call_needs=(("gate:0",),)),
    ]
    order = [st.name for st in plan]
    _execute(plan, stages, lay, 1, order)
    started = [line.split()[1].rstrip(":") for line in capsys.readouterr().err.splitlines() if line.endswith("...")]
    assert started == ["gate", "late", "filler", "calls", "after"]
    assert f["calls-0"].read_text() == "g" and f["calls-1"].read_text() == "c" and f["after"].read_text() == "g"
    f["after"].unlink()  # resumed: only "after" runs again, its call-level need met by the skipped "gate"
    _execute(plan, stages, lay, 1, order)
    started = [line.split()[1].rstrip(":") for line in capsys.readouterr().err.splitlines() if line.endswith("...")]
    assert started == ["after"] and f["after"].read_text() == "g"


def test_a_failed_stage_is_one_line_naming_it_and_recorded(tmp_path):
    lay, stages = _stages(tmp_path)
    missing = tmp_path / "missing.zarr"
    plan = [_Stage("split", "split", [tmp_path / "s.json"],
                   (partial(__import__("euv2mag.demo", fromlist=["_split_call"])._split_call, str(missing), "kpl19",
                            str(tmp_path / "s.json"), 0.1),), lambda: [])]
    with pytest.raises(UserError) as err:
        _execute(plan, stages, lay, 1, ["split"])
    text = str(err.value)
    assert "stage split failed" in text and str(missing) in text and "\n" not in text
    assert json.loads(lay.stages.read_text())["stages"]["split"]["status"] == "failed"
    assert not (tmp_path / "s.json").exists()


@pytest.mark.slow
def test_a_run_trained_in_a_worker_equals_one_trained_here_on_one_thread(tmp_path, tiny_store_and_split):
    """The demo's numbers do not depend on its process count: each call trains on one thread."""
    store, split = tiny_store_and_split
    options = {"iters": 6, "val_every": 6, "ckpt_every": 6, "log_every": 2, "ngf": 4, "ndf": 4, "precision": "fp32"}
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init) as pool:
        pool.submit(_timed, partial(_train_call, store, split, tmp_path / "worker", 3, "cc", options, "cpu")).result()
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_call(store, split, tmp_path / "here", 3, "cc", options, "cpu")
    finally:
        torch.set_num_threads(saved)
    w = torch.load(tmp_path / "worker" / "seed-3" / "last.ckpt", weights_only=True)["G"]
    h = torch.load(tmp_path / "here" / "seed-3" / "last.ckpt", weights_only=True)["G"]
    assert w.keys() == h.keys()
    for k in w:
        np.testing.assert_array_equal(w[k].numpy(), h[k].numpy(), err_msg=k)


_SLEEPING_DEMO = """
import sys, time
from functools import partial
from euv2mag.demo import _execute, _Stage, _Stages, demo_options
from euv2mag.report.layout import StudyLayout
lay = StudyLayout(sys.argv[1])
plan = [_Stage("sleep", "sleep", [], (partial(time.sleep, 120),), lambda: [])]
_execute(plan, _Stages(lay, demo_options(quick=True)), lay, 1, ["sleep"])
"""


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_the_workers_end_with_a_killed_demo(tmp_path, how):
    """A demo killed mid-call takes its workers with it (a worker training on alone would write
    into folders a re-run resumes); SIGTERM stops it like Ctrl-C (KeyboardInterrupt)."""
    import signal
    import subprocess
    import sys
    import time

    demo = subprocess.Popen([sys.executable, "-c", _SLEEPING_DEMO, str(tmp_path)], stderr=subprocess.PIPE, text=True)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while not workers and time.monotonic() < deadline:  # the pool's worker (not the resource tracker)
            workers = [p for p in _children(demo.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
            time.sleep(0.2)
        assert workers, "the demo started no worker"
        time.sleep(3)  # the worker has run its initializer and is in the 120-s call
        demo.send_signal(getattr(signal, how))
        _, err = demo.communicate(timeout=30)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers)
        if how == "SIGTERM":
            assert "KeyboardInterrupt" in err
    finally:  # nothing left behind when the test fails (an orphaned worker holds the stderr pipe)
        for p in [*workers, *_children(demo.pid)]:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        demo.kill()
        demo.communicate()
