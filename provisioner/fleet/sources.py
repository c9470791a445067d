"""Where the fleet comes from: a tenants file kept in git, or the registry.

tenants.yaml (the declarative fleet; adding, removing or changing an entry is a change the
preview shows):

    tenants:
      - slug: acme
        location: de
        plan: standard

A bare list of entries is accepted too. The whole file is checked before anything is planned
and every error is reported at once, each as `file:line: what is wrong`: the YAML, the fields,
slugs (syntax, duplicates), and, for the working tree's file, locations and plans against the
working tree's regions.yaml and plans (a location may exist at one revision and not at
another, so the base's file is checked only by the revision that plans it). A location given
by its AWS region name is stored as its code, so `us-east-1` and `us` are the same tenant spec.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from provisioner.errors import TenantsFileError as TenantsFileError  # callers catch it here
from provisioner.errors import UsageError
from provisioner.spec import validate_slug

DEFAULT_TENANTS_FILE = "tenants.yaml"
FIELDS = ("slug", "location", "plan")
_NULL_TAG = "tag:yaml.org,2002:null"
# libyaml's loader when PyYAML was built with it: 10,000 entries in ~0.1 s instead of ~2 s.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Fleet = dict[str, dict[str, str]]  # slug -> {"slug", "location", "plan"}
LocationCode = Callable[[str], str]  # location as written -> its code; UsageError if unknown


@dataclass(frozen=True)
class Vocabulary:
    """What the revision that plans the file accepts: location codes/regions and plan names."""

    location_code: LocationCode
    plans: Collection[str]


_NULLS = ("", "~", "null", "Null", "NULL")


def _mark(mark: Any) -> yaml.Mark:
    """libyaml's marks and PyYAML's differ only in type; only `line` is read."""
    return cast(yaml.Mark, mark)


def _compose(text: str) -> yaml.Node | None:
    """The document's node tree, built from libyaml's events. `yaml.compose` resolves every
    scalar's implicit tag in Python (most of the time for 10,000 entries); the only tag read
    here is null, so plain scalars spelling null get it and every other scalar is a string."""
    root: yaml.Node | None = None
    stack: list[yaml.Node] = []
    anchors: dict[str, yaml.Node] = {}

    def add(node: yaml.Node, anchor: str | None) -> None:
        nonlocal root
        if anchor:
            anchors[anchor] = node
        if not stack:
            root = node
            return
        parent = stack[-1]
        if isinstance(parent, yaml.SequenceNode):
            parent.value.append(node)
        elif parent.value and len(parent.value[-1]) == 1:
            parent.value[-1] = (parent.value[-1][0], node)  # the value of the last key
        else:
            parent.value.append((node,))  # a key, waiting for its value

    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.ScalarEvent):
            plain = not event.style and event.implicit[0]  # libyaml: style "" when plain
            tag = _NULL_TAG if plain and event.value in _NULLS else "tag:yaml.org,2002:str"
            add(yaml.ScalarNode(tag, event.value, _mark(event.start_mark)), event.anchor)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) \
                else yaml.MappingNode
            node = kind(event.tag or "", [], _mark(event.start_mark))
            add(node, event.anchor)
            stack.append(node)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            stack.pop()
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}",
                    _mark(event.start_mark))
            add(anchors[event.anchor], None)
    return root


def _scalar(node: yaml.Node) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
        return None
    return str(node.value).strip()


def _entry_errors(
    node: yaml.Node, vocabulary: Vocabulary | None
) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """One entry's fields (normalised) and its errors as (line, message); no errors means the
    fields are a complete spec."""
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        return {}, [(line, "entry is not a mapping with slug, location and plan")]
    errors: list[tuple[int, str]] = []
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node) or ""
        if key not in FIELDS:
            errors.append((key_node.start_mark.line + 1,
                           f"unknown field {key!r}: an entry has only slug, location and plan"))
            continue
        value = _scalar(value_node)
        lines[key] = value_node.start_mark.line + 1
        if value:
            values[key] = value
    return values, errors + check_fields(values, vocabulary, line, lines)


def check_fields(
    values: dict[str, str], vocabulary: Vocabulary | None, line: int = 0,
    lines: dict[str, int] | None = None,
) -> list[tuple[int, str]]:
    """Errors of one entry's fields as (line, message), normalising `values` in place (lower
    case, a location's code); `lines` gives each field's line, else `line`."""
    lines = lines or {}
    at = {f: lines.get(f, line) for f in FIELDS}
    errors: list[tuple[int, str]] = []
    missing = [f for f in FIELDS if f not in values]
    if missing:
        errors.append((line, f"entry lacks {', '.join(missing)}"))
    if "slug" in values:
        try:
            validate_slug(values["slug"])
        except UsageError as exc:
            errors.append((at["slug"], str(exc)))
    who = f"tenant {values['slug']}: " if "slug" in values else ""
    if "location" in values:
        values["location"] = values["location"].lower()
        if vocabulary is not None:
            try:
                values["location"] = vocabulary.location_code(values["location"])
            except UsageError as exc:
                errors.append((at["location"], f"{who}{exc}"))
    if "plan" in values:
        values["plan"] = values["plan"].lower()
        if vocabulary is not None and values["plan"] not in vocabulary.plans:
            errors.append((at["plan"], f"{who}unknown plan {values['plan']!r}: use one of"
                                       f" {', '.join(vocabulary.plans)}"))
    return errors


def parse_tenants(text: str, name: str, vocabulary: Vocabulary | None = None) -> Fleet:
    """A tenants file's entries by slug; TenantsFileError listing every error otherwise."""
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise TenantsFileError(name, [f"{where}: not valid YAML: {problem}"]) from exc
    if root is None:
        return {}
    entries: yaml.Node | None = root
    if isinstance(root, yaml.MappingNode):
        entries = None
        for key_node, value_node in root.value:
            key = _scalar(key_node)
            if key == "tenants":
                entries = value_node
            else:
                raise TenantsFileError(name, [
                    f"{name}:{key_node.start_mark.line + 1}: unknown top-level key {key!r}:"
                    " only 'tenants' is read"])
        if entries is None or (isinstance(entries, yaml.ScalarNode) and _scalar(entries) is None):
            return {}  # `tenants:` with nothing under it
    if not isinstance(entries, yaml.SequenceNode):
        line = entries.start_mark.line + 1 if entries is not None else 1
        raise TenantsFileError(name, [
            f"{name}:{line}: 'tenants' must be a list of {{slug, location, plan}} entries"])
    fleet: Fleet = {}
    first_line: dict[str, int] = {}
    errors: list[str] = []
    for node in entries.value:
        values, problems = _entry_errors(node, vocabulary)
        errors += [f"{name}:{line}: {message}" for line, message in problems]
        slug, line = values.get("slug"), node.start_mark.line + 1
        if slug is not None and slug in first_line:  # even when either entry has other errors
            errors.append(f"{name}:{line}: slug {slug!r} is listed twice (first on line"
                          f" {first_line[slug]})")
            continue
        if slug is not None:
            first_line[slug] = line
        if not problems:
            fleet[values["slug"]] = {f: values[f] for f in FIELDS}
    if errors:
        raise TenantsFileError(name, errors)
    return dict(sorted(fleet.items()))


def read_tenants_file(path: Path) -> Fleet:
    """A tenants file on disk, checked whole (every error at once, `file:line`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read tenants file {path}: {exc.strerror or exc}") from exc
    return parse_tenants(text, str(path))


def registry_fleet(url: str | None = None) -> Fleet:
    """Every registered tenant that still has a stack (not deleted), from the registry."""
    from provisioner.registry import Registry

    with Registry.open(url) as registry:
        tenants = registry.list_tenants()
    fleet: Fleet = {}
    for t in tenants:
        if t.desired_state == "deleted":
            continue
        fleet[t.slug] = {"slug": t.slug, "location": t.location, "plan": t.plan}
        if t.instance_id:  # bound to a warm-pool instance: planned under the instance's names
            fleet[t.slug]["instance_id"] = t.instance_id
        if t.legacy_backup:  # its stack keeps the backup copy from before the backup account
            fleet[t.slug]["legacy_backup"] = "true"
    return fleet
