import pytest

from edgebuild.lab import agent_run


def test_process_group_comes_only_from_the_marked_line():
    assert agent_run.job_pgid(b"1\nEDGEBUILD-PGID 4242\nrest") == 4242  # a login shell printed "1"
    assert agent_run.job_pgid(b"1\n2\n") is None
    assert agent_run.job_pgid(b"EDGEBUILD-PGID 1\n") is None  # kill(-1) would hit every process
    assert agent_run.job_pgid(b"EDGEBUILD-PGID 0\n") is None
    assert agent_run.job_pgid(b"EDGEBUILD-PGID -5\n") is None
    assert agent_run.job_pgid(b"EDGEBUILD-PGID 12") is None  # not a whole line yet


@pytest.mark.parametrize("group", [0, 1, -1])
def test_kill_group_refuses_pids_that_are_not_a_job(group):
    with pytest.raises(ValueError):
        agent_run.kill_group(None, group)
