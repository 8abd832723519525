"""The reference vision networks: another implementation's weights map onto ours only when every
tensor matches in order and shape."""

from pathlib import Path

import pytest
import torch

from edgebuild.errors import ModelError
from edgebuild.models.vision import in_order, mobilenet_v2


def test_weights_of_the_same_architecture_map_onto_ours_in_order():
    ours = mobilenet_v2().state_dict()
    theirs = {f"features.{i}": torch.full(t.shape, float(i)) for i, t in enumerate(ours.values())}
    mapped = in_order(ours, theirs, Path("w.pth"))
    assert list(mapped) == list(ours) and all((v == i).all() for i, v in enumerate(mapped.values()))


@pytest.mark.parametrize("change", ["drop", "reshape"])
def test_weights_of_another_architecture_are_refused_naming_the_file(change):
    ours = mobilenet_v2().state_dict()
    theirs = {k: v.clone() for k, v in ours.items()}
    if change == "drop":
        theirs.pop(next(iter(theirs)))
    else:
        theirs["0.weight"] = torch.zeros(16, 3, 3, 3)
    with pytest.raises(ModelError, match=r"mobilenet_v2-b0353104\.pth: .* do not match"):
        in_order(ours, theirs, Path("mobilenet_v2-b0353104.pth"))
