"""Promotion of search records against the schedule rules, on real MetaSchedule databases."""

import pytest

from edgebuild.compile import pipeline, promote


@pytest.fixture
def workload():
    from tvm import s_tir
    from tvm.script import tirx as T

    @T.prim_func(s_tir=True)
    def add(a: T.Buffer((64,), "float32"), b: T.Buffer((64,), "float32")):
        for i in range(64):
            with T.sblock("b"):
                vi = T.axis.spatial(64, i)
                b[vi] = a[vi] + T.float32(1)

    sch = s_tir.Schedule(add)  # the workload is sch's module before scheduling
    workload = sch.mod
    sch.vectorize(sch.get_loops(sch.get_sblock("b"))[0])  # get_top_k skips records with an empty trace
    return workload, sch


class Task:
    def __init__(self, workload):
        self.task_name, self.dispatched = "add", [workload[0]]


def search_with(tmp_path, workload, secs):
    import tvm
    from tvm.s_tir import meta_schedule as ms

    db = pipeline.database(tmp_path / "search")
    mod, sch = workload
    args = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
    db.commit_tuning_record(ms.database.TuningRecord(sch.trace, db.commit_workload(mod), [secs],
                                                     tvm.target.Target({"kind": "llvm"}), args))
    return db


@pytest.mark.parametrize("rule_s, kept", [(2e-3, True), (1.01e-3, False), (0.5e-3, False), (None, True)])
def test_a_record_is_kept_only_when_it_beats_the_rule_by_the_margin(tmp_path, workload, rule_s, kept):
    search = search_with(tmp_path, workload, 1e-3)
    committed = pipeline.database(tmp_path / "kept")
    kernels = [promote.Kernel("add", rule_s)]
    assert promote.promote([Task(workload)], kernels, search, committed) == int(kept)
    assert kernels[0].promoted is kept and kernels[0].best_s == pytest.approx(1e-3)
    assert len(committed.get_all_tuning_records()) == int(kept)
    assert ("search" if kept else "rule") in promote.summary(kernels).splitlines()[1]


def test_a_resumed_run_does_not_commit_the_same_record_twice(tmp_path, workload):
    search = search_with(tmp_path, workload, 1e-3)
    committed = pipeline.database(tmp_path / "kept")
    kernels = [promote.Kernel("add", None)]
    assert promote.promote([Task(workload)], kernels, search, committed) == 1
    assert promote.promote([Task(workload)], kernels, search, committed) == 0
    assert len(committed.get_all_tuning_records()) == 1
