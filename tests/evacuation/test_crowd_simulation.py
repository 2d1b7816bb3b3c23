"""The crowd simulation's start (walkable area, exit, redraw rule, scenario file) and short JuPedSim runs."""

import json

import numpy as np
import pytest
import shapely

from helpers.evacuation import crowd_simulation, scenario
from helpers.evacuation.scenario import BODY_RADIUS, Scenario, ScenarioError


def row(y, x_max=20.0, step=1.0):
    xs = np.arange(0.0, x_max + step / 2, step)
    return np.column_stack([xs, np.full_like(xs, y)])


# ---------------------------------------------------------------- walkable area
def test_the_walkable_area_is_the_union_of_discs_around_the_positions():
    area = scenario.walkable_area(row(0.0, x_max=10.0, step=0.1), 1.0)
    # a 10 m by 2 m band with half discs at its ends (discs drawn as 16-gons: 8 sin(pi / 8) for pi)
    assert isinstance(area, shapely.Polygon)
    assert area.area == pytest.approx(20 + 8 * np.sin(np.pi / 8), rel=0.01)
    assert area.bounds == pytest.approx((-1, -1, 11, 1), abs=0.01)


def test_the_walkable_area_keeps_the_largest_piece_and_says_how_much_it_covers():
    points = np.vstack([row(0.0, x_max=10.0), row(0.0, x_max=2.0) + [100.0, 0.0]])
    area = scenario.walkable_area(points, 1.0)
    assert area.bounds[2] < 12  # the small group at x = 100 is not part of it
    assert scenario.coverage(points, area) == pytest.approx(11 / 14)


def test_the_radius_chosen_is_the_smallest_that_joins_the_positions():
    # two rows 6.6 m apart: discs of 3 m leave a gap, discs of 3.5 m overlap
    points = np.vstack([row(0.0), row(6.6)])
    assert scenario.choose_radius(points, coverage_wanted=0.99) == 3.5
    assert scenario.coverage(points, scenario.walkable_area(points, 3.0)) == pytest.approx(0.5)
    # half the positions are one row, which 1 m discs join (at 0.5 m they only touch)
    assert scenario.choose_radius(points, coverage_wanted=0.5) == 1.0


@pytest.mark.parametrize("radius", [0.0, -1.0, float("nan")])
def test_a_radius_that_is_not_positive_is_refused(radius):
    with pytest.raises(ScenarioError, match="positive number of metres"):
        scenario.walkable_area(row(0.0), radius)


def test_positions_that_no_radius_joins_are_refused():
    with pytest.raises(ScenarioError, match="no radius up to 20.0 m joins"):
        scenario.choose_radius(np.array([[0.0, 0.0], [100.0, 0.0]]))
    with pytest.raises(ValueError, match="at least 1 samples"):
        scenario.walkable_area(np.empty((0, 2)), 1.0)


# ---------------------------------------------------------------- the exit
def test_the_exit_is_a_square_inside_the_area_at_its_top_right_corner():
    exit_ = scenario.top_right_exit(shapely.box(0, 0, 10, 5), size=4.0)
    assert exit_.bounds == pytest.approx((6, 1, 10, 5))
    # a rounded corner: the square moves inward along the diagonal until it fits
    rounded = shapely.box(0, 0, 10, 5).buffer(-1.0).buffer(1.0)
    exit_ = scenario.top_right_exit(rounded, size=2.0)
    assert rounded.contains(exit_) and exit_.area == pytest.approx(4.0)
    assert exit_.bounds[2] > 9 and exit_.bounds[3] > 4


@pytest.mark.parametrize(("area", "message"), [
    (shapely.Polygon(), "the walkable area is empty"),
    (shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)]), "one shapely Polygon"),
    (shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(3, 3), (5, 3), (5, 5), (3, 5)]]), "not a valid polygon"),
])
def test_an_area_that_makes_no_sense_is_refused(area, message):
    with pytest.raises(ScenarioError, match=message):
        scenario.top_right_exit(area)


def test_an_exit_outside_the_area_or_not_convex_is_refused():
    area = shapely.box(0, 0, 10, 5)
    with pytest.raises(ScenarioError, match="50% of the exit lies outside the walkable area"):
        scenario.check_exit(area, shapely.box(9, 0, 11, 2))
    with pytest.raises(ScenarioError, match="convex"):
        scenario.check_exit(area, shapely.Polygon([(1, 1), (3, 1), (3, 3), (2, 2), (1, 3)]))
    with pytest.raises(ScenarioError, match="non-empty"):
        scenario.check_exit(area, shapely.Polygon())
    with pytest.raises(ScenarioError, match="no 8.0 m square fits"):
        scenario.top_right_exit(area, size=8.0)


# ---------------------------------------------------------------- the redraw rule
def scripted(*batches):
    """A sampler that returns the given batches of positions, one per call, checking the count asked for."""
    batches = list(batches)

    def draw(n, rng):
        batch = np.asarray(batches.pop(0), dtype=float)
        assert len(batch) == n
        return batch

    return draw


def test_positions_outside_near_the_edge_or_too_close_are_drawn_again_and_counted():
    area = shapely.box(0, 0, 10, 10)
    sampler = scripted([[1, 1], [20, 5], [1.3, 1], [0.1, 5], [5, 5]],  # in, outside, too close, at the edge, in
                       [[1, 1.2], [7, 7], [9.5, 9.5]],                      # too close again, in, in the exit
                       [[3, 3], [2, 8]])                                    # the last two
    placement = scenario.place_people(sampler, 5, area, np.random.default_rng(0), exit_=shapely.box(9, 9, 10, 10))
    np.testing.assert_array_equal(placement.positions, [[1, 1], [5, 5], [7, 7], [3, 3], [2, 8]])
    assert placement.as_dict() == {"count": 5, "outside": 3, "too_close": 2, "rounds": 3}


def test_a_distribution_that_misses_the_area_stops_with_the_counts():
    def far_away(n, rng):
        return rng.normal(100.0, 1.0, size=(n, 2))

    with pytest.raises(ScenarioError, match=r"after 5 rounds of drawing only 0 of 3 people stand .*15 draws fell "
                                            r"outside"):
        scenario.place_people(far_away, 3, shapely.box(0, 0, 10, 10), np.random.default_rng(0), max_rounds=5)
    with pytest.raises(ValueError, match="the number of people must be an integer of at least 1"):
        scenario.place_people(far_away, 0, shapely.box(0, 0, 10, 10), np.random.default_rng(0))


def test_drawing_is_deterministic_for_a_seed():
    def uniform(n, rng):
        return rng.uniform(0, 10, size=(n, 2))

    first, second = (scenario.place_people(uniform, 40, shapely.box(0, 0, 10, 10), np.random.default_rng([3, 0]))
                     for _ in range(2))
    np.testing.assert_array_equal(first.positions, second.positions)
    distances = np.hypot(*(first.positions[:, None] - first.positions[None]).transpose(2, 0, 1))
    assert distances[~np.eye(40, dtype=bool)].min() >= 2 * BODY_RADIUS


# ---------------------------------------------------------------- the scenario and its file
CORRIDOR = shapely.box(0, 0, 20, 4)


def corridor_scenario(xs=(2.0, 4.0, 6.0, 8.0, 10.0)):
    return Scenario(CORRIDOR, scenario.top_right_exit(CORRIDOR, size=2.0), np.column_stack([xs, np.full(len(xs), 2.0)]))


@pytest.mark.parametrize(("positions", "message"), [
    ([[2, 2], [25, 2]], r"1 start positions lie outside the walkable area .* \(the first: \[25.0, 2.0\]\)"),
    ([[2, 2], [2, 0.1]], "closer than 0.2 m to its edge"),
    ([[2, 2], [2.1, 2]], "start positions 0 and 1 are 0.10 m apart, closer than a body's width"),
    ([[2, np.nan]], "NaN"),
])
def test_start_positions_that_make_no_sense_are_refused(positions, message):
    with pytest.raises(ValueError, match=message):
        Scenario(CORRIDOR, scenario.top_right_exit(CORRIDOR, size=2.0), np.array(positions, dtype=float))


def test_a_scenario_file_loads_again_as_the_same_scenario(tmp_path):
    original = corridor_scenario()
    path = scenario.write_scenario(tmp_path / "scenario.json", original)
    loaded = scenario.load_scenario(path)
    assert loaded.area.equals_exact(original.area, 1e-9) and loaded.exit.equals_exact(original.exit, 1e-9)
    np.testing.assert_array_equal(loaded.positions, original.positions)
    assert (loaded.radius, loaded.desired_speed, loaded.time_step) == (0.2, 1.34, 0.01)


def test_a_broken_or_missing_scenario_file_gets_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="does not exist; `make report` writes results/task4_scenario.json"):
        scenario.load_scenario(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": 1, "area_wkt": "POLYGON ((0 0, 1 0"}')
    with pytest.raises(ScenarioError, match="bad.json: not a scenario file"):
        scenario.load_scenario(tmp_path / "bad.json")
    record = json.loads(corridor_scenario().to_json())
    record["exit_wkt"] = shapely.box(19, 3, 21, 5).wkt
    (tmp_path / "outside.json").write_text(json.dumps(record))
    with pytest.raises(ScenarioError, match="outside.json: 75% of the exit lies outside the walkable area"):
        scenario.load_scenario(tmp_path / "outside.json")


def _file(tmp_path, **changes):
    """The corridor's scenario file with ``changes`` to its fields."""
    record = {**json.loads(corridor_scenario().to_json()), **changes}
    (tmp_path / "s.json").write_text(json.dumps(record) if not isinstance(changes.get("_raw"), str)
                                      else changes["_raw"])
    return tmp_path / "s.json"


@pytest.mark.parametrize(("changes", "message"), [
    ({"area_wkt": "POLYGON((0 0,1e300 0,1e300 1e300,0 1e300,0 0))"}, "the walkable area spans 1e\\+300 m"),
    ({"area_wkt": "POLYGON((0 0,20000 0,20000 10,0 10,0 0))"}, "spans 2e\\+04 m; .* at most 10000 m"),
    ({"positions": [["a", 1]]}, "positions: must be a list of \\[x, y\\] pairs of numbers"),
    ({"radius": "big"}, "radius must be a finite number, got 'big'"),
    ({"time_step": 1e6}, "time_step must be a number at least 0.001 and at most 1"),
    ({"time_step": 1e-9}, "time_step must be a number at least 0.001"),
    ({"desired_speed": float("inf")}, "not a scenario file: not JSON|desired_speed must be a finite number"),
    ({"_raw": "[]"}, "it holds a list, not an object of fields"),
    ({"_raw": "null"}, "it holds a NoneType, not an object of fields"),
])
def test_a_scenario_file_that_makes_no_sense_is_refused_naming_the_field(tmp_path, changes, message):
    with pytest.raises(ScenarioError, match=message):
        scenario.load_scenario(_file(tmp_path, **changes))


def test_more_people_than_a_scenario_may_hold_are_refused():
    area = shapely.box(0, 0, 600, 600)
    grid = np.stack(np.meshgrid(np.arange(1, 102) * 5.0, np.arange(1, 102) * 5.0), axis=-1).reshape(-1, 2)
    with pytest.raises(ScenarioError, match="places 10201 people; it may place at most 10000"):
        Scenario(area, shapely.box(590, 590, 598, 598), grid)


@pytest.mark.parametrize("max_time", ["inf", "nan", "-5", "1e9"])
def test_the_command_line_refuses_a_simulated_time_that_makes_no_sense(tmp_path, capsys, max_time):
    path = scenario.write_scenario(tmp_path / "s.json", corridor_scenario())
    assert crowd_simulation.main([str(path), "--max-time", max_time]) == 2
    assert "error: the simulated time (max_time) must be" in capsys.readouterr().err


def test_a_run_of_too_many_steps_is_refused_before_it_starts():
    slow = Scenario(CORRIDOR, scenario.top_right_exit(CORRIDOR, size=2.0), np.array([[2.0, 2.0]]), time_step=0.001)
    with pytest.raises(ScenarioError, match="3600 s in steps of 0.001 s are 3600000 steps; a run takes at most"):
        crowd_simulation.simulate(slow, max_time=3600)


def test_many_people_for_long_are_refused_before_the_simulator_starts(tmp_path, capsys):
    area = shapely.box(0, 0, 300, 300)
    grid = np.stack(np.meshgrid(np.arange(1, 101) * 2.0, np.arange(1, 101) * 2.0), axis=-1).reshape(-1, 2)
    crowd = Scenario(area, shapely.box(290, 290, 299.5, 299.5), grid)  # 10,000 people: a scenario may hold them
    path = scenario.write_scenario(tmp_path / "crowd10k.json", crowd)
    assert crowd_simulation.main([str(path)]) == 2  # the default --max-time
    said = capsys.readouterr().err
    assert "10000 people for 900 s in steps of 0.01 s are 900,000,000 person-steps; a run takes at most " \
           "100,000,000" in said
    fine = Scenario(CORRIDOR, scenario.top_right_exit(CORRIDOR, size=2.0), np.array([[2.0, 2.0]]), time_step=0.001)
    with pytest.raises(ScenarioError, match="person-steps"):  # a smaller time step counts as more steps
        crowd_simulation.simulate(Scenario(area, crowd.exit, grid[:1000], time_step=0.001), max_time=900)
    assert crowd_simulation.simulate(fine, max_time=20).all_out


def test_the_recorded_frames_fill_one_array_of_everyone_in_every_frame(corridor_run):
    frames = corridor_run.frames
    assert frames.shape[1] == 4 and frames.flags.owndata
    per_frame = np.bincount(frames[:, 1].astype(int))
    assert per_frame[0] == 5 and np.all(np.diff(per_frame) <= 0)  # people only leave
    assert frames[:, 1].tolist() == sorted(frames[:, 1].tolist())


def test_a_frame_recorded_after_the_last_person_left_is_empty_and_skipped():
    every_step = crowd_simulation.simulate(corridor_scenario(), record_every=1)
    assert every_step.all_out and every_step.frame_rate == 100.0
    assert np.bincount(every_step.frames[:, 0].astype(int)).tolist() == [
        int(round(t * 100)) + 1 for t in every_step.exit_times]  # each person in every frame until out


def test_an_outline_of_too_many_holes_is_refused_before_it_is_checked(tmp_path):
    outer = shapely.box(0, 0, 200, 200)
    holes = [shapely.box(x, y, x + 0.2, y + 0.2).exterior.coords for x in np.arange(1, 190, 1.0)
             for y in np.arange(1, 190, 1.0)]  # 35,721 small holes, as an outside review sent
    holey = shapely.Polygon(outer.exterior.coords, holes)
    path = tmp_path / "holes.json"
    path.write_text(json.dumps({"format": scenario.FORMAT, "area_wkt": holey.wkt,
                                "exit_wkt": shapely.box(195, 195, 199, 199).wkt, "positions": [[150.5, 150.5]],
                                "radius": 0.2, "desired_speed": 1.34, "time_step": 0.01}))
    refused = "has 178610 vertices and 35721 holes; a scenario's has at most 20000 and 500"
    with pytest.raises(ScenarioError, match=refused):
        scenario.load_scenario(path)


# ---------------------------------------------------------------- short simulations
@pytest.fixture(scope="module")
def corridor_run():
    return crowd_simulation.simulate(corridor_scenario())


def test_a_handful_of_people_in_a_corridor_all_leave_nearest_first(corridor_run):
    assert corridor_run.all_out
    times = corridor_run.exit_times
    assert np.all(np.diff(times) < 0)  # the one nearest the exit (x = 10) is out first
    # each walks about (18 - x) m to the exit square at 1.34 m/s, and none faster than that
    walk = (18.0 - np.array([2.0, 4.0, 6.0, 8.0, 10.0])) / 1.34
    assert np.all(times >= 0.9 * walk) and np.all(times <= 1.5 * walk + 2.0)
    assert corridor_run.evacuation_time == times.max()
    assert corridor_run.time_until(0.5) == np.sort(times)[2]
    assert corridor_run.out_by([0.0, np.sort(times)[1], 1e6]).tolist() == [0, 2, 5]
    counts = corridor_run.out_curve()[1]
    assert counts.tolist() == [0, 1, 2, 3, 4, 5]


def test_the_recorded_paths_start_at_the_start_positions_and_end_at_the_exit(corridor_run):
    paths = corridor_run.paths()
    assert len(paths) == 5 and corridor_run.frame_rate == 10.0
    for path, x in zip(paths, [2.0, 4.0, 6.0, 8.0, 10.0], strict=True):
        assert path[0].tolist() == [x, 2.0]
        assert path[-1, 0] > 16.0 and np.all(np.diff(path[:, 0]) > -1e-9)  # never walks back


def test_the_crowd_in_an_area_is_measured_with_pedpy(corridor_run):
    crowd = crowd_simulation.crowd_in_area(corridor_run, ((0.0, 0.0), (11.0, 4.0)))
    assert crowd == {"people": 5, "density": pytest.approx(5 / 44), "time": 0.0}
    later = crowd_simulation.crowd_in_area(corridor_run, ((12.0, 0.0), (16.0, 4.0)))
    assert 1 <= later["people"] <= 5 and later["time"] > 0


def test_people_who_cannot_reach_the_exit_in_time_count_as_not_out():
    run = crowd_simulation.simulate(corridor_scenario(), max_time=5.0)
    assert not run.all_out and np.isnan(run.evacuation_time) and np.isnan(run.exit_times).all()
    assert np.isnan(run.time_until(0.5)) and run.out_curve()[1].tolist() == [0]


def test_runs_are_deterministic_and_summarised_with_their_spread():
    def uniform(n, rng):
        return rng.uniform([0, 0], [20, 4], size=(n, 2))

    exit_ = scenario.top_right_exit(CORRIDOR, size=2.0)
    runs = crowd_simulation.evacuations(uniform, CORRIDOR, exit_, n_people=6, seeds=3, seed=1)
    again = crowd_simulation.evacuations(uniform, CORRIDOR, exit_, n_people=6, seeds=3, seed=1)
    for first, second in zip(runs, again, strict=True):
        np.testing.assert_array_equal(first.evacuation.exit_times, second.evacuation.exit_times)
    assert not np.array_equal(runs[0].scenario.positions, runs[1].scenario.positions)  # a new draw per seed
    summary = crowd_simulation.summary(runs, ((0, 0), (20, 4)), capacity=5)
    times = [run.evacuation.evacuation_time for run in runs]
    assert summary["evacuation_times"].tolist() == times
    assert summary["mean"] == pytest.approx(np.mean(times)) and summary["std"] == pytest.approx(np.std(times, ddof=1))
    assert summary["peak_people"] == [6, 6, 6] and summary["over_capacity"] and summary["all_out"]
    assert summary["redrawn_outside"] == sum(run.placement.outside for run in runs)


def test_the_comparison_of_two_sources_uses_the_spread_over_draws():
    model = {"evacuation_times": np.array([10.0, 12.0]), "half_times": np.array([5.0, 5.0])}
    reference = {"evacuation_times": np.array([11.0, 13.0]), "half_times": np.array([8.0, 8.0])}
    compared = crowd_simulation.compare(model, reference)
    assert compared["all"] == {"difference": -1.0, "longer": False, "relative": pytest.approx(-1 / 12),
                               "standard_error": pytest.approx(np.sqrt(2 / 2 + 2 / 2)), "within_noise": True}
    assert compared["half"]["longer"] is False and not compared["half"]["within_noise"]


def test_a_scenario_file_runs_alone(tmp_path, capsys):
    path = scenario.write_scenario(tmp_path / "scenario.json", corridor_scenario())
    assert crowd_simulation.main([str(path), "--sqlite", str(tmp_path / "run.sqlite")]) == 0
    assert capsys.readouterr().out.startswith("5 of 5 people out after ")
    assert (tmp_path / "run.sqlite").stat().st_size > 0
    assert crowd_simulation.main([str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
