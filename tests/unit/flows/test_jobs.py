"""profile over a list of models: `corpus` expands, and one model that does not build costs only its own row."""

from types import SimpleNamespace

import pytest

from edgebuild.errors import ModelError, UsageError
from edgebuild.flows import jobs
from edgebuild.models import corpus


def test_profile_models_runs_each_model_and_reports_one_that_does_not_build(project, monkeypatch):
    names = corpus.names(project.root)
    seen = []

    def profile_on(_project, selector, artifact, *args, **kwargs):
        seen.append(artifact.model)
        if artifact.model == names[1]:
            raise ModelError("it does not build")
        return [jobs.Outcome(selector, True)]

    monkeypatch.setattr(jobs, "profile_on", profile_on)
    monkeypatch.setattr(jobs.inventory, "load", lambda _: SimpleNamespace(select=lambda s: [SimpleNamespace(name=s)]))
    outcomes = jobs.profile_models(project, "pi", jobs.Artifact(model="digits-cnn,corpus"))
    assert seen == ["digits-cnn", *names]
    assert [o.ok for o in outcomes] == [True, True, False] + [True] * (len(names) - 2)
    assert outcomes[2].error == f"{names[1]}: it does not build"
    with pytest.raises(UsageError, match="--bundle profiles one bundle"):
        jobs.profile_models(project, "pi", jobs.Artifact(model="corpus", bundle=project.root))
