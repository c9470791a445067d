"""A tenant's weekly windows: when RDS may apply minor upgrades and when SSM patches the server.

Each is a stable hash of the tenant's instance id (and, for the database, its region), so a
region's tenants spread over the week instead of restarting together, and a tenant's window
never moves. The stack's components take them from here (`database.maintenance_window`,
`patching.window_schedule`).

Standard library only, on purpose: besides the slug and the instance id these are the only
values in a tenant's plan that differ between tenants of one location and plan, and the fleet
planner loads this very file at each revision it compares (`tenant_windows`) to fill them into
a plan shared by those tenants. A module that imported the program's other code could not be
loaded on its own that way.
"""

from __future__ import annotations

import hashlib

# Database: 30-minute slots starting on the half hour from 04:00 to 05:30 UTC (after the
# backup window and AWS Backup's 03:00 start window), any day: 28 slots per region.
DB_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DB_SLOT_STARTS = ((4, 0), (4, 30), (5, 0), (5, 30))
# Patching: a cron start at night in the location's own time zone, any day: 28 slots.
WINDOW_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
WINDOW_START_HOURS = (1, 2, 3, 4)  # local night


def database_window(region: str, instance_id: str) -> str:
    """The database's weekly maintenance window (`ddd:hh:mm-ddd:hh:mm`, UTC)."""
    digest = hashlib.sha256(f"{region}/{instance_id}".encode()).digest()
    slot = int.from_bytes(digest[:8], "big") % (len(DB_DAYS) * len(DB_SLOT_STARTS))
    day = DB_DAYS[slot // len(DB_SLOT_STARTS)]
    hour, minute = DB_SLOT_STARTS[slot % len(DB_SLOT_STARTS)]
    end_hour, end_minute = divmod(hour * 60 + minute + 30, 60)
    return f"{day}:{hour:02d}:{minute:02d}-{day}:{end_hour:02d}:{end_minute:02d}"


def patch_schedule(instance_id: str) -> str:
    """The patching window's weekly start (an SSM cron expression in the local time zone)."""
    slot = int.from_bytes(hashlib.sha256(instance_id.encode()).digest()[:4], "big")
    day = WINDOW_DAYS[slot % len(WINDOW_DAYS)]
    hour = WINDOW_START_HOURS[(slot // len(WINDOW_DAYS)) % len(WINDOW_START_HOURS)]
    return f"cron(0 {hour} ? * {day} *)"


def tenant_windows(region: str, instance_id: str) -> dict[str, str]:
    """Every per-tenant value this module gives the stack, by name (what the fleet planner
    substitutes into a shared plan). Add a new hashed value here as well as in the stack."""
    return {
        "database_window": database_window(region, instance_id),
        "patch_schedule": patch_schedule(instance_id),
    }
