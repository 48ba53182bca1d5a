"""Label and field selectors.

Two forms share one matcher: the query-string syntax of `labelSelector=`
(`a=b,c!=d,e in (x,y),f notin (z),g,!h`) and the LabelSelector object of
webhook configurations (matchLabels + matchExpressions, kubernetes-api.md §6.6).
A selector is a list of (key, op, values) requirements that are ANDed.
"""
import re

from .errors import bad_request

# Label keys: optional DNS prefix, a name of at most 63 characters.
_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?"
                     r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
MAX_LABEL_VALUE = 63


def _split_top(s):
    """Splits on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _check_key(key, text):
    if not _KEY_RE.match(key):
        raise bad_request('unable to parse requirement: invalid label key "%s" in "%s"'
                          % (key, text))


def _check_value(v, text):
    if len(v) > MAX_LABEL_VALUE or not _VALUE_RE.match(v):
        raise bad_request('unable to parse requirement: invalid label value: "%s" in "%s"'
                          % (v, text))


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")


def parse_label_selector(text):
    """Parses the query form; raises ApiError 400 on bad syntax."""
    reqs = []
    for part in _split_top(text or ""):
        m = _SET_RE.match(part)
        if m:
            key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            vals = [v for v in vals if v != ""]
            _check_key(key, text)
            for v in vals:
                _check_value(v, text)
            if not vals:
                raise bad_request("unable to parse requirement: for 'in', 'notin' operators, "
                                  "values set can't be empty")
            reqs.append((key, "In" if op == "in" else "NotIn", vals))
            continue
        m = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$", part)
        if m:
            key, op, val = m.group(1), m.group(2), m.group(3).strip()
            _check_key(key, text)
            _check_value(val, text)
            reqs.append((key, "NotIn" if op == "!=" else "In", [val]))
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key, text)
            reqs.append((key, "DoesNotExist", []))
            continue
        _check_key(part, text)
        reqs.append((part, "Exists", []))
    return reqs


def from_label_selector_object(sel):
    """matchLabels/matchExpressions -> requirements. None means 'everything' here,
    because webhook configurations default a missing selector to {}."""
    if sel is None:
        return []
    reqs = [(k, "In", [str(v)]) for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError("bad selector operator %r" % op)
        reqs.append((e.get("key", ""), op, list(e.get("values") or [])))
    return reqs


def matches(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        present = key in labels
        if op == "In" and not (present and labels[key] in vals):
            return False
        if op == "NotIn" and present and labels[key] in vals:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


# ---- field selectors ----
# Only the fields the real server indexes for these kinds; anything else is a
# 400 like `field label not supported`, so tests notice typos.
COMMON_FIELDS = ("metadata.name", "metadata.namespace")
EXTRA_FIELDS = {
    "pods": ("spec.nodeName", "spec.serviceAccountName", "status.phase", "status.podIP"),
    "events": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
               "involvedObject.uid", "reason", "type"),
    "secrets": ("type",),
}


def parse_field_selector(text, plural):
    reqs = []
    allowed = COMMON_FIELDS + EXTRA_FIELDS.get(plural, ())
    for part in _split_top(text or ""):
        m = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, part))
        field, op, val = m.group(1), m.group(2), m.group(3).strip()
        if field not in allowed:
            raise bad_request('"%s" is not a known field selector: only "%s"'
                              % (field, '", "'.join(allowed)))
        reqs.append((field, op != "!=", val))
    return reqs


def _field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    return "" if cur is None else str(cur)


def fields_match(reqs, obj):
    return all((_field_value(obj, f) == v) == eq for f, eq, v in reqs)
