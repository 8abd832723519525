from edgebuild.flows.search import Budget


def test_budget_violation_is_signed_like_optunas_constraints():
    drop = Budget("accuracy", 1.0)
    assert drop.violation(98.8, 98.0) < 0 and drop.violation(98.8, 97.5) > 0
    cosine = Budget("cosine_to_fp32", 0.98)
    assert cosine.violation(1.0, 0.99) < 0 and cosine.violation(1.0, 0.97) > 0
    assert drop.gate() == {"max-accuracy-drop": 1.0} and cosine.gate() == {"min-cosine-to-fp32": 0.98}
