"""Usage assumptions per plan (provisioner/cost/usage.yaml), overridable by a usage file.

The defaults live in the one documented YAML file beside this module; a usage file given with
`--usage` has the same shape and replaces only the figures it names (per plan, and per resource
by its Pulumi name).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.errors import ConfigError, UsageError

DEFAULT_USAGE = Path(__file__).with_name("usage.yaml")
KEYS = (
    "requests_per_month",
    "lb_lcu_average",
    "nat_gb_processed",
    "internet_out_gb",
    "log_ingest_gb",
    "kms_requests_per_month",
    "secrets_api_calls_per_month",
    "data_used_fraction",
    "daily_change_fraction",
    "dns_queries_per_month",
    "bucket_gb_stored",
)


@dataclass(frozen=True)
class Usage:
    """The figures for one plan, plus per-resource overrides."""

    plan: str
    hours_per_month: float
    figures: Mapping[str, float]
    resources: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def get(self, key: str, resource: str = "") -> float:
        """The figure for `key`, the resource's own one first."""
        own = self.resources.get(resource, {})
        return float(own[key]) if key in own else float(self.figures[key])


@dataclass(frozen=True)
class UsageBook:
    """Every plan's usage, as loaded (defaults merged with an override file)."""

    hours_per_month: float
    plans: Mapping[str, Mapping[str, float]]
    resources: Mapping[str, Mapping[str, float]]
    sources: tuple[str, ...]

    def for_plan(self, plan: str) -> Usage:
        if plan not in self.plans:
            raise UsageError(f"no usage assumptions for plan {plan!r} in {', '.join(self.sources)}")
        return Usage(plan, self.hours_per_month, self.plans[plan], self.resources)


def _figures(name: str, where: str, raw: Any, complete: bool) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: {where} must be a mapping of usage figures")
    unknown = sorted(set(map(str, raw)) - set(KEYS))
    if unknown:
        raise ConfigError(f"{name}: {where} has unknown key(s) {', '.join(unknown)}")
    missing = [k for k in KEYS if k not in raw]
    if complete and missing:
        raise ConfigError(f"{name}: {where} lacks {', '.join(missing)}")
    return {str(key): _number(name, f"{where}.{key}", value) for key, value in raw.items()}


def _number(name: str, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name}: {where} must be a number >= 0")
    if value < 0:
        raise ConfigError(f"{name}: {where} must be a number >= 0")
    return float(value)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, on one line: str(exc) spans lines and draws a caret under the source."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}" if problem else f"{where}: {' '.join(str(exc).split())}"


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read usage file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML{_yaml_problem(exc)}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'plans' and/or 'resources'")
    unknown = sorted(set(map(str, raw)) - {"hours_per_month", "plans", "resources"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}")
    return raw


def load_usage(override: Path | None = None, defaults: Path = DEFAULT_USAGE) -> UsageBook:
    """The default assumptions, with `override`'s figures replacing theirs."""
    base = _read(defaults)
    plans = {
        str(plan): _figures(str(defaults), f"plans.{plan}", figures, complete=True)
        for plan, figures in (base.get("plans") or {}).items()
    }
    hours = _number(str(defaults), "hours_per_month", base.get("hours_per_month", 730))
    resources: dict[str, dict[str, float]] = {}
    sources = [str(defaults)]
    if override is not None:
        extra = _read(override)
        sources.append(str(override))
        if "hours_per_month" in extra:
            hours = _number(str(override), "hours_per_month", extra["hours_per_month"])
        for plan, figures in (extra.get("plans") or {}).items():
            if str(plan) not in plans:
                raise ConfigError(f"{override}: unknown plan {plan!r} (plans: {', '.join(plans)})")
            plans[str(plan)] = {
                **plans[str(plan)],
                **_figures(str(override), f"plans.{plan}", figures, False),
            }
        for name, figures in (extra.get("resources") or {}).items():
            resources[str(name)] = _figures(str(override), f"resources.{name}", figures, False)
    if not 0 < hours <= 744:
        raise ConfigError(f"hours_per_month must be between 1 and 744, not {hours:g}")
    return UsageBook(hours, plans, resources, tuple(sources))
