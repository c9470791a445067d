"""The fleet report as one pull-request comment (markdown), and the exit code it means.

The comment comes from templates/fleet_comment.md.j2. GitHub refuses comments over 65,536
characters, so a report too long for that is rendered again with shorter lists, and cut as a
last resort (the JSON report always holds everything).
"""

from __future__ import annotations

import json
from typing import Any

from provisioner.errors import EXIT_FAILED, EXIT_OK

MARKER = "<!-- provisioner-fleet-plan -->"
EXIT_CHANGES = 4  # --detailed-exitcode: at least one tenant changes
EXIT_DANGEROUS = 5  # --detailed-exitcode: data-holding resources replaced/deleted, or policy fails
GITHUB_COMMENT_LIMIT = 65_536  # characters
_BUDGET = 60_000  # leaves room for the truncation note
_LIMITS = ({"tenants": 200, "rows": 80, "reasons": 20}, {"tenants": 25, "rows": 15, "reasons": 5})

STATUS_TEXT = {
    "refused": "refused (the change is not allowed)",
    "changed": "change",
    "added": "added (created)",
    "removed": "removed (every resource deleted)",
    "error": "cannot be planned",
    "unchanged": "unchanged, with policy failures",
}
ICONS = {"create": "+", "update": "~", "replace": "±", "delete": "-"}


def exit_code(report: dict[str, Any], detailed: bool) -> int:
    """0 / 4 changes / 5 dangerous with --detailed-exitcode (tenants or regional stacks);
    otherwise 0, or 1 when a tenant or a location's regional stack cannot be planned at the
    working tree (the program is broken for it), a tenant's change is refused, or the change
    makes a mandatory policy rule fail for a tenant or a regional stack (as `provisioner check`
    would; a rule already failing at the base does not fail every pull request)."""
    if detailed:
        if report["dangerous"]:
            return EXIT_DANGEROUS
        return EXIT_CHANGES if report["changed"] else EXIT_OK
    t = report["summary"]["tenants"]
    broken_regions = report.get("regions", {}).get("summary", {}).get("stacks", {}).get("error")
    groups = [*report["groups"], *report.get("regions", {}).get("groups", [])]
    newly_failing = any(f.get("new") for g in groups
                        for f in (g.get("policy") or {}).get("failures", []))
    failed = t["error"] or t.get("refused") or broken_regions or newly_failing
    return EXIT_FAILED if failed else EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def headline(report: dict[str, Any]) -> str:
    regions = report.get("regions")
    if not regions:
        return _tenant_headline(report)
    # The report's changed/dangerous include the regional stacks: the tenants' part says only
    # what the tenants do, the regional part follows it.
    t = report["summary"]["tenants"]
    text = _tenant_headline({**report, "changed": t["total"] != t["unchanged"],
                             "dangerous": bool(t["dangerous"])})
    if regions["changed"] or regions["dangerous"]:
        r = regions["summary"]["stacks"]
        moved = r["changed"] + r["added"] + r["removed"] + r["error"]
        text += f" · {moved} of {_plural(r['total'], 'regional stack')} change"
        if regions["dangerous"]:
            text = f"⚠️ {_plural(r['dangerous'], 'regional stack')} dangerous · " \
                + text.removeprefix("⚠️ ")
    return text


def _tenant_headline(report: dict[str, Any]) -> str:
    t = report["summary"]["tenants"]
    failed = t["error"] + t.get("refused", 0)
    if failed:
        # Tenants that failed or were refused changed nothing: say so rather than "N change".
        text = f"{t['total'] - failed} planned"
        text += f", {t['error']} failed" if t["error"] else ""
        text += f", {t['refused']} refused" if t.get("refused") else ""
        moved = t["changed"] + t["added"] + t["removed"]
        if moved:
            text += f" · {moved} of {t['total'] - failed} change"
        return f"⚠️ {text}"
    if not report["changed"] and not report["dangerous"]:
        return f"no changes to {_plural(t['total'], 'tenant')}"
    moved = t["changed"] + t["added"] + t["removed"]
    text = f"{moved} of {t['total']} tenants change"
    if report["dangerous"]:
        text = f"⚠️ {t['dangerous']} dangerous · " + text
    return text


def lead_error(report: dict[str, Any]) -> str | None:
    """The first failure, shown right under the headline: when nothing can be planned, this is
    the one thing a reviewer needs."""
    for group in report["groups"]:
        if group["status"] in ("refused", "error") and group["error"]:
            more = sum(g["count"] for g in report["groups"] if g["status"] in ("refused", "error"))
            suffix = f" ({_plural(group['count'], 'tenant')} of {more})" if more > 1 else ""
            return f"{group['error']}{suffix}"
    return None


def parent_path(urn: str) -> str:
    """`...::provisioner:tenant:Tenant$provisioner:tenant:Database$aws:rds/...::x` ->
    `Tenant/Database`: the components a resource lives under."""
    chain = urn.split("::")[2].split("$")[:-1]
    return "/".join(t.rsplit(":", 1)[-1] for t in chain) or "the stack"


def report_json(report: dict[str, Any]) -> str:
    """The report as sorted, indented JSON, except that each tenant's entry is one line: as
    diff-friendly, and at 10,000 tenants a fraction of the time (the C encoder does each line)."""
    tenants = report.get("tenants", {})
    mark = "@@fleet-tenants@@"
    text = json.dumps({**report, "tenants": mark}, indent=2, sort_keys=True, default=str)
    lines = ",\n".join(f"    {json.dumps(slug)}: {json.dumps(entry, sort_keys=True)}"
                       for slug, entry in sorted(tenants.items()))
    block = "{\n" + lines + "\n  }" if tenants else "{}"
    return text.replace(json.dumps(mark), block, 1) + "\n"


def _value(value: Any, width: int = 60) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and "\n" in value:
        return f"_{value.count(chr(10)) + 1} lines, see below_"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _inline(value: Any) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|")


def change_rows(changes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One table row per changed property (or per created/deleted resource), replace first.
    A resource deleted and created under the same name and type (its component was renamed or
    re-typed without an alias) shows the parent path on both rows: that is what changed."""
    deleted = {(e["name"], e["type"]) for e in changes.get("delete", [])}
    created = {(e["name"], e["type"]) for e in changes.get("create", [])}
    moved = deleted & created
    rows = []
    for action in ("delete", "replace", "update", "create"):
        for entry in changes.get(action, []):
            base = {"action": action, "icon": ICONS[action], "name": entry["name"],
                    "type": entry["type"].split(":")[-1] if ":" in entry["type"] else entry["type"],
                    "path": "", "before": "", "after": "", "forces": False, "diff": None,
                    "under": None}
            if (entry["name"], entry["type"]) in moved:
                base["under"] = f"under {parent_path(entry['urn'])}"
            if entry.get("previous"):  # matched through an alias
                base["under"] = f"was {entry['previous'].rsplit('::', 1)[-1]}"
            if action in ("create", "delete") or not entry.get("changes"):
                rows.append(base)
                continue
            reasons = set(entry.get("reasons", []))
            for change in entry["changes"]:
                rows.append({**base, "path": change["path"], "forces": change["path"] in reasons,
                             "before": _value(change.get("before")),
                             "after": _value(change.get("after")), "diff": change.get("diff")})
    return rows


def resource_text(counts: dict[str, int]) -> str:
    """`3 resources change`: resources, as the summary table counts them (not property rows)."""
    total = sum(counts.values())
    return "1 resource changes" if total == 1 else f"{total} resources change"


def count_text(counts: dict[str, int]) -> str:
    words = {"create": "to create", "update": "to update", "replace": "to replace",
             "delete": "to delete"}
    return ", ".join(f"{n} {words[a]}" for a, n in counts.items() if n)


def slug_list(slugs: list[str], limit: int) -> str:
    shown = ", ".join(f"`{s}`" for s in slugs[:limit])
    return shown + (f" … and {len(slugs) - limit} more" if len(slugs) > limit else "")


def _environment() -> Any:
    import jinja2

    from provisioner.paths import TEMPLATES_DIR

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=False,  # markdown, not HTML; values are escaped for tables by the filters
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(change_rows=change_rows, count_text=count_text, slug_list=slug_list,
                       inline=_inline, resource_text=resource_text)
    return env


def render_markdown(report: dict[str, Any]) -> str:
    template = _environment().get_template("fleet_comment.md.j2")
    source = report["source"]
    context = {
        "report": {"previews": {}, **report},
        "marker": MARKER,
        "headline": headline(report),
        "lead_error": lead_error(report),
        "source": {"file": f"`{source.get('path')}`", "given": "the specs given"}.get(
            source.get("kind", ""), "the registry"),
        "regions": report.get("regions"),
        "dangerous_groups": [g for g in report["groups"] if g["dangerous"]],
        "other_groups": [g for g in report["groups"] if not g["dangerous"]],
        "status_text": STATUS_TEXT,
        "truncated": False,
    }
    text = ""
    for limits in _LIMITS:
        text = template.render(limits=limits, **context)
        if len(text) <= _BUDGET:
            return text
    context["truncated"] = True
    text = template.render(limits=_LIMITS[-1], **context)
    note = "\n\n_…cut to fit GitHub's comment limit; the JSON report (`-o json`) has everything._\n"
    return text[: _BUDGET - len(note)] + note
