"""The evacuation itself: a scenario (``scenario``) run with JuPedSim's collision-free speed
model, every person walking to the exit by the shortest route through the walkable area; and its
measures: when each person is out, and (with PedPy) the crowd in a given area during the run.

Run a scenario file alone:

    python -m helpers.evacuation.crowd_simulation results/task4_scenario.json [--sqlite run.sqlite]

(``--sqlite`` also writes JuPedSim's trajectory file, which its viewer and PedPy read.)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from helpers.core.validation import check_int, check_real

from .critical_number import Sampler
from .scenario import Placement, Scenario, ScenarioError, load_scenario, place_people

#: People still inside after this many simulated seconds count as not evacuated.
MAX_TIME = 900.0
#: A run simulates at most an hour, in at most a million steps.
LONGEST, MAX_STEPS = 3600.0, 1_000_000
#: The simulator's work and the recorded frames grow with people times steps; a run may take at most
#: this many: the most Task 4 allows, 1000 people for 900 s in steps of 0.01 s, is 90 million.
MAX_PERSON_STEPS = 100_000_000
#: Positions are recorded every this many time steps (10 per second at the default step).
RECORD_EVERY = 10


class SimulationError(RuntimeError):
    """The simulator refused a scenario."""


@dataclass(frozen=True)
class Evacuation:
    """One run: each person's exit time in seconds (NaN: still inside when the run stopped) and the
    recorded positions as rows (person, frame, x, y) at ``frame_rate`` frames per second."""

    exit_times: np.ndarray
    frames: np.ndarray
    frame_rate: float

    @property
    def finished(self) -> np.ndarray:
        """The exit times of those who are out, in order."""
        return np.sort(self.exit_times[np.isfinite(self.exit_times)])

    @property
    def all_out(self) -> bool:
        return bool(np.isfinite(self.exit_times).all())

    @property
    def evacuation_time(self) -> float:
        """Seconds until the last person is out (NaN if someone is still inside)."""
        return float(self.exit_times.max()) if self.all_out else float("nan")

    def time_until(self, share: float) -> float:
        """Seconds until at least ``share`` of the people are out (NaN if they never are)."""
        needed = max(1, int(np.ceil(share * len(self.exit_times))))
        finished = self.finished
        return float(finished[needed - 1]) if len(finished) >= needed else float("nan")

    def out_by(self, times) -> np.ndarray:
        """The number of people out at each of ``times`` (seconds)."""
        return np.searchsorted(self.finished, np.asarray(times, dtype=float), side="right")

    def out_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, people out) at time 0 and at each exit, for a step plot."""
        finished = self.finished
        return np.r_[0.0, finished], np.arange(len(finished) + 1)

    def paths(self) -> list[np.ndarray]:
        """Each person's recorded positions, (frames, 2), in the order of the start positions."""
        people = self.frames[:, 0].astype(int)
        return [self.frames[people == person][:, 2:] for person in range(len(self.exit_times))]


def simulate(scenario: Scenario, *, max_time: float = MAX_TIME, record_every: int = RECORD_EVERY,
             sqlite: str | None = None) -> Evacuation:
    """Run ``scenario`` until everyone is out or ``max_time`` simulated seconds have passed."""
    import jupedsim as jps

    try:
        max_time = check_real(max_time, "the simulated time (max_time)", positive=True, high=LONGEST)
        check_int(record_every, "record_every")
    except ValueError as error:
        raise ScenarioError(str(error)) from None
    steps, people = int(round(max_time / scenario.time_step)), len(scenario.positions)
    if steps > MAX_STEPS:
        raise ScenarioError(f"{max_time:g} s in steps of {scenario.time_step:g} s are {steps} steps; a run takes at "
                            f"most {MAX_STEPS}: a larger time step or a shorter time.")
    if people * steps > MAX_PERSON_STEPS:
        raise ScenarioError(f"{people} people for {max_time:g} s in steps of {scenario.time_step:g} s are "
                            f"{people * steps:,} person-steps; a run takes at most {MAX_PERSON_STEPS:,}: fewer "
                            "people, a shorter time (--max-time) or a larger time step.")
    writer = jps.SqliteTrajectoryWriter(output_file=sqlite, every_nth_frame=record_every) if sqlite else None
    try:
        simulation = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=scenario.area,
                                    dt=scenario.time_step, trajectory_writer=writer)
        exit_stage = simulation.add_exit_stage(scenario.exit)
        journey = simulation.add_journey(jps.JourneyDescription([exit_stage]))
        person_of = {}
        for person, position in enumerate(scenario.positions):
            agent = simulation.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
                journey_id=journey, stage_id=exit_stage, position=tuple(position),
                desired_speed=scenario.desired_speed, radius=scenario.radius))
            person_of[agent] = person
    except RuntimeError as error:  # JuPedSim's native errors
        raise SimulationError(f"JuPedSim refused the scenario: {error}") from error
    exit_times = np.full(people, np.nan)
    # Rows (person, frame, x, y), at most everyone in every recorded frame: allocated once, filled in order.
    frames = np.empty((people * (steps // record_every + 1), 4))
    frames[:people] = np.column_stack([np.arange(people), np.zeros(people), scenario.positions])
    filled = people
    while simulation.agent_count() and simulation.iteration_count() < steps:
        simulation.iterate()
        for agent in simulation.removed_agents():
            exit_times[person_of[agent]] = simulation.elapsed_time()
        if simulation.iteration_count() % record_every == 0:
            frame = simulation.iteration_count() // record_every
            recorded = [(person_of[agent.id], frame, *agent.position) for agent in simulation.agents()]
            if recorded:  # none after the last one left
                frames[filled:filled + len(recorded)] = recorded
                filled += len(recorded)
    return Evacuation(exit_times, frames[:filled].copy(), 1.0 / (record_every * scenario.time_step))


def crowd_in_area(evacuation: Evacuation, corners) -> dict:
    """The most people at once inside the rectangle spanned by two opposite ``corners``, with the
    classic density (people per square metre) and the time of that moment, measured with PedPy."""
    import pandas as pd
    import pedpy

    (x0, y0), (x1, y1) = corners
    rectangle = pedpy.MeasurementArea([(min(x0, x1), min(y0, y1)), (max(x0, x1), min(y0, y1)),
                                       (max(x0, x1), max(y0, y1)), (min(x0, x1), max(y0, y1))])
    trajectory = pedpy.TrajectoryData(
        data=pd.DataFrame({"id": evacuation.frames[:, 0].astype(int), "frame": evacuation.frames[:, 1].astype(int),
                           "x": evacuation.frames[:, 2], "y": evacuation.frames[:, 3]}),
        frame_rate=evacuation.frame_rate)
    density = pedpy.compute_classic_density(traj_data=trajectory, measurement_area=rectangle)
    peak = density["density"].idxmax()
    return {"people": int(round(density["density"][peak] * rectangle.area)),
            "density": float(density["density"][peak]),
            "time": float(density["frame"][peak] / evacuation.frame_rate)}


@dataclass(frozen=True)
class Run:
    """One draw of people and its evacuation."""

    scenario: Scenario
    placement: Placement
    evacuation: Evacuation


def evacuations(sampler: Sampler, area, exit_, *, n_people: int, seeds: int, seed: int = 0,
                max_time: float = MAX_TIME) -> list[Run]:
    """``seeds`` evacuations, each from a new draw of ``n_people`` start positions (place_people,
    random stream ``[seed, k]`` for the k-th), all in the same area toward the same exit."""
    seeds = check_int(seeds, "the number of draws")
    runs = []
    for k in range(seeds):
        placement = place_people(sampler, n_people, area, np.random.default_rng([seed, k]), exit_=exit_)
        scenario = Scenario(area, exit_, placement.positions)
        runs.append(Run(scenario, placement, simulate(scenario, max_time=max_time)))
    return runs


def summary(runs: list[Run], corners, capacity: int | None = None) -> dict:
    """Evacuation times (each run's, their mean and standard deviation), the same for the times
    until half are out, the redraws, the people not out, and the crowd in the rectangle ``corners``
    (each run's peak, their mean, and whether a peak exceeded ``capacity``)."""
    times = np.array([run.evacuation.evacuation_time for run in runs])
    halves = np.array([run.evacuation.time_until(0.5) for run in runs])
    crowds = [crowd_in_area(run.evacuation, corners) for run in runs]
    return {"evacuation_times": times, "mean": float(np.mean(times)),
            "std": _spread(times), "half_times": halves, "mean_half": float(np.mean(halves)),
            "std_half": _spread(halves),
            "all_out": all(run.evacuation.all_out for run in runs),
            "not_out": sum(int(np.isnan(run.evacuation.exit_times).sum()) for run in runs),
            "redrawn_outside": sum(run.placement.outside for run in runs),
            "redrawn_too_close": sum(run.placement.too_close for run in runs),
            "peak_people": [crowd["people"] for crowd in crowds],
            "peak_density": [crowd["density"] for crowd in crowds],
            "mean_peak_people": float(np.mean([crowd["people"] for crowd in crowds])),
            "over_capacity": capacity is not None and any(crowd["people"] > capacity for crowd in crowds)}


def _spread(values: np.ndarray) -> float:
    """The sample standard deviation (0 for a single value)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _difference(model: np.ndarray, reference: np.ndarray) -> dict:
    difference = float(np.mean(model) - np.mean(reference))
    error = float(np.sqrt(_spread(model) ** 2 / len(model) + _spread(reference) ** 2 / len(reference)))
    return {"difference": difference, "longer": difference > 0, "relative": difference / float(np.mean(reference)),
            "standard_error": error, "within_noise": abs(difference) <= 2 * error}


def compare(model: dict, reference: dict) -> dict:
    """A model's mean times against the reference's (two summaries), until everyone is out ("all")
    and until half are ("half"): the difference in seconds and relative to the reference, its
    standard error from the spread over the draws, and whether the difference is within twice that
    (the draws cannot tell the two apart)."""
    return {"all": _difference(model["evacuation_times"], reference["evacuation_times"]),
            "half": _difference(model["half_times"], reference["half_times"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a crowd-simulation scenario file with JuPedSim.")
    parser.add_argument("scenario", help="a scenario file (results/task4_scenario.json after `make report`)")
    parser.add_argument("--max-time", type=float, default=MAX_TIME, help="simulated seconds at most")
    parser.add_argument("--sqlite", help="also write JuPedSim's trajectory file here")
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        evacuation = simulate(scenario, max_time=args.max_time, sqlite=args.sqlite)
    except (ScenarioError, SimulationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = len(evacuation.finished)
    print(f"{out} of {len(evacuation.exit_times)} people out"
          + (f" after {evacuation.evacuation_time:.1f} s" if evacuation.all_out
             else f" within {args.max_time:.0f} s; the others are still inside"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
