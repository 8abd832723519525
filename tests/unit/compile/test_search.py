from edgebuild.compile import search


def test_a_full_round_evolves_metaschedules_default_population_and_a_small_batch_fewer():
    assert search.population(search.TRIALS_PER_TASK_ROUND) == 512  # MetaSchedule's own default
    assert search.population(100) == 512
    assert search.population(1) == 64
