"""The start of a crowd simulation, built from the data: the walkable area, the exit at its top-right
corner, and start positions drawn from a p(x), with the files a crowd simulator reads (a CSV of
positions, and a JSON scenario that ``python -m helpers.evacuation.crowd_simulation`` runs again).

The building's plan is not given, so the walkable area is the union of discs of a chosen radius
around the training positions (its largest connected piece). Drawn positions that fall outside
it, or closer than a body's width to someone already placed, are redrawn from p(x) and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from scipy.spatial import cKDTree

from helpers.core.files import write_atomic
from helpers.core.validation import check_int, check_real, validate_data

from .critical_number import Sampler

#: A body's radius in metres (JuPedSim's default agent radius); two people are at least a body's width apart.
BODY_RADIUS = 0.2
BODY_WIDTH = 2 * BODY_RADIUS
#: The mean free walking speed of pedestrians, 1.34 m/s (Weidmann, 1993).
DESIRED_SPEED = 1.34
#: The simulator's time step in seconds (JuPedSim's recommended default).
TIME_STEP = 0.01
#: The walkable area's radius is chosen among multiples of this many metres.
RADIUS_STEP = 0.5
#: Version of the scenario file format.
FORMAT = 1
#: What a scenario may hold, so that a file cannot ask the simulator for the impossible (its memory
#: grows with the area's extent: a square of 1000 km took a gigabyte for one person).
MAX_EXTENT = 10_000.0  # metres across the walkable area
MAX_PEOPLE = 10_000
TIME_STEP_RANGE = (1e-3, 1.0)  # seconds
MAX_RADIUS = 1.0  # metres
MAX_SPEED = 10.0  # metres per second
MAX_FILE_BYTES = 8 * 2**20
#: The outline's size: the checks and the simulator's set-up (it triangulates the area) grow with the
#: vertices and holes, which a file can hold by the ten thousand (the areas Task 4 draws for radii from
#: 0.5 to 3 m have at most 81 holes and 2,343 vertices).
MAX_VERTICES, MAX_HOLES = 20_000, 500

class ScenarioError(ValueError):
    """A walkable area, exit or set of start positions that makes no sense for a simulation."""


def write_positions_csv(path, points) -> Path:
    """Write positions as a CSV file with header ``x,y`` (metres, 3 decimals), atomically: the
    initial positions a crowd simulator can read."""
    points = validate_data(points, name="positions", min_samples=1, n_features=2)
    path = Path(path)
    write_atomic(path, "x,y\n" + "".join(f"{x:.3f},{y:.3f}\n" for x, y in points))
    return path


# ---------------------------------------------------------------- the walkable area and the exit
def _largest_piece(geometry):
    return max(getattr(geometry, "geoms", [geometry]), key=lambda piece: piece.area)


def walkable_area(points, radius: float, *, tolerance: float = 0.05) -> shapely.Polygon:
    """The largest connected piece of the union of discs of ``radius`` metres around ``points``,
    its outline simplified to ``tolerance`` metres (discs drawn with 16 segments)."""
    points = validate_data(points, name="points", min_samples=1, n_features=2)
    if not (np.isfinite(radius) and radius > 0):
        raise ScenarioError(f"the radius around the positions must be a positive number of metres, got {radius}.")
    union = shapely.unary_union(shapely.buffer(shapely.points(points), radius, quad_segs=4))
    area = _largest_piece(union).simplify(tolerance)
    if area.is_empty or not area.is_valid or area.geom_type != "Polygon":
        raise ScenarioError(f"the discs of radius {radius} m around the positions give no valid polygon; "
                            "use a larger radius.")
    return area


def coverage(points, area) -> float:
    """The share of ``points`` inside ``area``."""
    points = validate_data(points, name="points", min_samples=1, n_features=2)
    return float(shapely.intersects_xy(area, points[:, 0], points[:, 1]).mean())


def choose_radius(points, *, coverage_wanted: float = 0.99, step: float = RADIUS_STEP, largest: float = 20.0) -> float:
    """The smallest radius (a multiple of ``step`` metres) at which the walkable area is one piece
    holding at least ``coverage_wanted`` of the positions: every place where people were seen,
    connected, with as little space between the corridors as possible."""
    points = validate_data(points, name="points", min_samples=1, n_features=2)
    if not 0 < coverage_wanted <= 1:
        raise ScenarioError(f"coverage_wanted must be in (0, 1], got {coverage_wanted}.")
    for radius in np.arange(1, int(np.floor(largest / step)) + 1) * step:
        if coverage(points, walkable_area(points, float(radius))) >= coverage_wanted:
            return float(radius)
    raise ScenarioError(f"no radius up to {largest} m joins {coverage_wanted:.0%} of the positions into one area; "
                        "the positions fall apart into distant groups.")


def top_right_exit(area: shapely.Polygon, size: float = 4.0, *, step: float = 0.1) -> shapely.Polygon:
    """The exit: a square of side ``size`` metres inside ``area``, as close as it fits to the corner of
    the area's outline that lies furthest to the top right (largest x + y), moved from that corner
    inward along the diagonal in steps of ``step`` metres."""
    check_area(area)
    if not (np.isfinite(size) and size > 0):
        raise ScenarioError(f"the exit's size must be a positive number of metres, got {size}.")
    outline = shapely.get_coordinates(area.exterior)
    corner = outline[np.argmax(outline.sum(axis=1))]
    diagonal = np.array([1.0, 1.0]) / np.sqrt(2.0)
    half = size / 2.0
    for shift in np.arange(0.0, np.hypot(*np.ptp(outline, axis=0)), step):
        centre = corner - (half * np.sqrt(2.0) + shift) * diagonal
        square = shapely.box(*(centre - half), *(centre + half))
        if area.contains(square):
            return square
    raise ScenarioError(f"no {size} m square fits into the walkable area along its top-right diagonal; use a smaller "
                        "exit or a larger radius.")


def check_area(area) -> shapely.Polygon:
    if not isinstance(area, shapely.Polygon):
        raise ScenarioError(f"the walkable area must be one shapely Polygon, got {type(area).__name__}; people in "
                            "separate pieces could never reach the exit.")
    vertices, holes = int(shapely.get_num_coordinates(area)), int(shapely.get_num_interior_rings(area))
    if vertices > MAX_VERTICES or holes > MAX_HOLES:
        raise ScenarioError(f"the walkable area's outline has {vertices} vertices and {holes} holes; a scenario's "
                            f"has at most {MAX_VERTICES} and {MAX_HOLES} (simplify it).")
    if area.is_empty or not area.area > 0:
        raise ScenarioError("the walkable area is empty.")
    coordinates = shapely.get_coordinates(area)
    if not np.isfinite(coordinates).all():
        raise ScenarioError("the walkable area has coordinates that are not finite numbers.")
    extent, distance = float(np.ptp(coordinates, axis=0).max()), float(np.abs(coordinates).max())
    if extent > MAX_EXTENT:
        raise ScenarioError(f"the walkable area spans {extent:.3g} m; a scenario's area spans at most "
                            f"{MAX_EXTENT:g} m.")
    if distance > 100 * MAX_EXTENT:
        raise ScenarioError(f"the walkable area lies {distance:.3g} m from the origin; a scenario's coordinates are "
                            f"at most {100 * MAX_EXTENT:g} m from it.")
    if not area.is_valid:
        raise ScenarioError(f"the walkable area is not a valid polygon ({shapely.is_valid_reason(area)}).")
    return area


def check_exit(area: shapely.Polygon, exit_) -> shapely.Polygon:
    """``exit_`` as a polygon inside the walkable area, or a ScenarioError saying what is wrong."""
    if not isinstance(exit_, shapely.Polygon) or exit_.is_empty or exit_.area <= 0:
        raise ScenarioError(f"the exit must be a non-empty shapely Polygon, got {exit_.wkt[:60]}.")
    if exit_.convex_hull.area - exit_.area > 1e-9 * exit_.convex_hull.area:
        raise ScenarioError("the exit must be a convex polygon (the simulator's rule for exit areas).")
    outside = exit_.difference(area.buffer(1e-6)).area
    if outside > 0:
        raise ScenarioError(f"{outside / exit_.area:.0%} of the exit lies outside the walkable area; an exit must be "
                            "a part of the area (see top_right_exit).")
    return exit_


# ---------------------------------------------------------------- start positions
@dataclass(frozen=True)
class Placement:
    """Start positions and how many draws were rejected: ``outside`` the area (or closer than a
    body's radius to its edge or to the exit), ``too_close`` to someone placed before; ``rounds``
    of drawing."""

    positions: np.ndarray
    outside: int
    too_close: int
    rounds: int

    def as_dict(self) -> dict:
        return {"count": len(self.positions), "outside": self.outside, "too_close": self.too_close,
                "rounds": self.rounds}


def _inside(area, points: np.ndarray, clearance: float, exit_=None) -> np.ndarray:
    """Which points stand in ``area``, at least ``clearance`` from its edge and from ``exit_``."""
    inside = shapely.contains_xy(area, points[:, 0], points[:, 1])
    for edge in (area.boundary, exit_):
        if edge is not None and inside.any():
            distances = shapely.distance(edge, shapely.points(points[inside]))
            inside[np.flatnonzero(inside)[distances < clearance]] = False
    return inside


def place_people(sampler: Sampler, n: int, area: shapely.Polygon, rng: np.random.Generator, *,
                 exit_: shapely.Polygon | None = None, radius: float = BODY_RADIUS,
                 max_rounds: int = 100) -> Placement:
    """``n`` start positions drawn from ``sampler`` (n, rng -> (n, 2) positions), one after another:
    a position outside ``area``, or closer than ``radius`` to its edge or to ``exit_`` (someone there
    would already be out), is rejected as ``outside``; one closer than a body's width (2 ``radius``)
    to a position already placed as ``too_close``. Every rejected person is drawn again, in rounds,
    until all ``n`` stand."""
    check_area(area)
    n = check_int(n, "the number of people")
    placed = np.empty((0, 2))
    outside = too_close = rounds = 0
    while len(placed) < n:
        if rounds == max_rounds:
            raise ScenarioError(f"after {max_rounds} rounds of drawing only {len(placed)} of {n} people stand in the "
                                f"walkable area ({outside} draws fell outside it, {too_close} too close to another); "
                                "the distribution hardly covers the area, or the area is too small for them.")
        rounds += 1
        draws = validate_data(sampler(n - len(placed), rng), name="drawn positions", min_samples=1, n_features=2)
        inside = _inside(area, draws, radius, exit_)
        outside += int((~inside).sum())
        for point in draws[inside]:
            if len(placed) and np.min(np.hypot(*(placed - point).T)) < 2 * radius:
                too_close += 1
            else:
                placed = np.vstack([placed, point])
    return Placement(placed, outside, too_close, rounds)


# ---------------------------------------------------------------- the scenario and its file
@dataclass(frozen=True)
class Scenario:
    """What a simulation starts from: the walkable area, the exit, the start positions and the
    people's radius, desired speed and the time step. Checked on creation."""

    area: shapely.Polygon
    exit: shapely.Polygon
    positions: np.ndarray = field(repr=False)
    radius: float = BODY_RADIUS
    desired_speed: float = DESIRED_SPEED
    time_step: float = TIME_STEP

    def __post_init__(self):
        check_area(self.area)
        check_exit(self.area, self.exit)
        _refused(lambda: check_real(self.radius, "radius", positive=True, high=MAX_RADIUS))
        _refused(lambda: check_real(self.desired_speed, "desired_speed", positive=True, high=MAX_SPEED))
        _refused(lambda: check_real(self.time_step, "time_step", low=TIME_STEP_RANGE[0], high=TIME_STEP_RANGE[1]))
        positions = _refused(lambda: validate_data(self.positions, name="start positions", n_features=2, min_samples=1))
        if len(positions) > MAX_PEOPLE:
            raise ScenarioError(f"the scenario places {len(positions)} people; it may place at most {MAX_PEOPLE}.")
        outside = np.flatnonzero(~_inside(self.area, positions, self.radius, self.exit))
        if len(outside):
            raise ScenarioError(f"{len(outside)} start positions lie outside the walkable area or closer than "
                                f"{self.radius} m to its edge or to the exit (the first: "
                                f"{positions[outside[0]].round(2).tolist()}); draw them with place_people.")
        if len(positions) > 1:  # the nearest neighbour of each, from a k-d tree (no matrix of all pairs)
            distances, neighbours = cKDTree(positions).query(positions, k=2)
            i = int(np.argmin(distances[:, 1]))
            if distances[i, 1] < 2 * self.radius:
                raise ScenarioError(f"start positions {i} and {int(neighbours[i, 1])} are {distances[i, 1]:.2f} m "
                                    f"apart, closer than a body's width ({2 * self.radius} m); draw them with "
                                    "place_people.")
        object.__setattr__(self, "positions", positions)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "area_wkt": self.area.wkt, "exit_wkt": self.exit.wkt,
                           "positions": [[round(float(x), 6), round(float(y), 6)] for x, y in self.positions],
                           "radius": self.radius, "desired_speed": self.desired_speed,
                           "time_step": self.time_step, "units": "metres, seconds"}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        """A scenario from its JSON, every field checked; a ScenarioError names the field that is wrong."""
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise ScenarioError(f"not a scenario file: not JSON ({error}).") from None
        if not isinstance(record, dict):
            raise ScenarioError(f"not a scenario file: it holds a {type(record).__name__}, not an object of fields.")
        missing = [key for key in ("format", "area_wkt", "exit_wkt", "positions", "radius", "desired_speed",
                                   "time_step") if key not in record]
        if missing:
            raise ScenarioError(f"not a scenario file: it lacks {', '.join(missing)}.")
        if record["format"] != FORMAT:
            raise ScenarioError(f"scenario format {record['format']!r} is not {FORMAT}.")
        area, exit_ = (_refused(lambda key=key: shapely.from_wkt(record[key]), key) for key in ("area_wkt", "exit_wkt"))
        positions = record["positions"]
        if not (isinstance(positions, list) and all(isinstance(p, list) and len(p) == 2 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in p) for p in positions)):
            raise ScenarioError("positions: must be a list of [x, y] pairs of numbers (metres).")
        numbers = {key: _refused(lambda key=key: check_real(record[key], key)) for key in ("radius", "desired_speed",
                                                                                           "time_step")}
        return cls(area, exit_, np.asarray(positions, dtype=float).reshape(-1, 2), **numbers)


def write_scenario(path, scenario: Scenario) -> Path:
    """Write the scenario as JSON (geometry as WKT, positions in metres), atomically."""
    return write_atomic(Path(path), scenario.to_json())


def _refused(call, field: str | None = None):
    """``call()``, its refusal as a ScenarioError (naming ``field`` where the message does not)."""
    try:
        return call()
    except (TypeError, ValueError, shapely.errors.GEOSException) as error:
        raise ScenarioError(f"{field}: {error}" if field else str(error)) from None


def load_scenario(path) -> Scenario:
    """Read a scenario written by write_scenario (and check it again)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path} does not exist; `make report` writes results/task4_scenario.json.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ScenarioError(f"{path} has {path.stat().st_size} bytes; a scenario file has at most {MAX_FILE_BYTES}.")
    try:
        return Scenario.from_json(path.read_text())
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from error
