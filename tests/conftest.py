import os

# Figures are drawn off-screen in tests and CI.
os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

# Numba compiles on first call; deadlines would measure compilation, not the property.
settings.register_profile(
    "lab", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", parent=settings.get_profile("lab"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lab"))
