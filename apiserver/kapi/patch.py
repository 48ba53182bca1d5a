"""The four PATCH flavours (kubernetes-api.md §4.3).

- merge patch (RFC 7386): objects merge recursively, null deletes a key,
  everything else replaces.
- JSON patch (RFC 6902): delegated to python3-jsonpatch, which implements
  JSON-pointer escaping (~0, ~1) and the `test` op.
- strategic merge patch: merge patch plus the list strategies that built-in
  Go types declare with struct tags. We have no Go types, so MERGE_KEYS lists
  the fields that matter for the objects cmesh and kubectl touch. Directives
  handled: `$patch` (replace/delete/merge), `$retainKeys`,
  `$deleteFromPrimitiveList/<f>`, `$setElementOrder/<f>`.
- apply patch: server-side apply approximated as a merge patch that may
  create the object. No managedFields or field-ownership conflicts (documented
  limitation of the stand-in).
"""
import copy
import json

import jsonpatch
import yaml

from .errors import ApiError, bad_request

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

# Field name -> merge key for lists with patchStrategy "merge" in the Go API
# types (core/v1, apps/v1, batch/v1, meta/v1). `ports` is resolved per element:
# container ports merge on containerPort, Service ports on port.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
    "ownerReferences": "uid", "conditions": "type", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "schedulingGates": "name", "ports": None,
}
# Primitive lists that merge as sets instead of being replaced.
MERGE_PRIMITIVE = {"finalizers"}

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ORDER = "$setElementOrder/"


def merge_patch(target, patch):
    """RFC 7386 on deep copies; returns the result."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            result[k] = merge_patch(result.get(k), v)
        else:
            result[k] = copy.deepcopy(v)
    return result


def apply_json_patch(target, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch must be an array of operations")
    try:
        return jsonpatch.JsonPatch(ops).apply(copy.deepcopy(target))
    except jsonpatch.InvalidJsonPatch as e:
        raise bad_request("invalid json patch: %s" % e)
    except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPatchTestFailed,
            jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as e:
        # The real server reports failed operations as 422 (the patch was
        # well formed but cannot be applied to this object).
        raise ApiError(422, "Invalid", "the server rejected our request due to an error in "
                       "our request: %s" % (str(e) or type(e).__name__))


def _merge_key(field, items):
    key = MERGE_KEYS.get(field)
    if key is not None or field != "ports":
        return key
    for it in items:
        if isinstance(it, dict) and "containerPort" in it:
            return "containerPort"
    return "port"


def _strategic_list(field, orig, patch):
    key = _merge_key(field, list(orig or []) + list(patch))
    if field in MERGE_PRIMITIVE:
        out = list(orig or [])
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    if key is None:
        return [strategic_merge(None, p) if isinstance(p, dict) else p for p in patch]
    # {"$patch": "replace"} as a list element replaces the whole list.
    if any(isinstance(p, dict) and p.get(DIRECTIVE) == "replace" for p in patch):
        return [strategic_merge(None, p) for p in patch
                if not (isinstance(p, dict) and p.get(DIRECTIVE) == "replace")]
    out = [copy.deepcopy(o) for o in (orig or [])]
    for p in patch:
        if not isinstance(p, dict):
            raise bad_request("strategic merge patch: list %s needs objects" % field)
        kv = p.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv),
                   None)
        if p.get(DIRECTIVE) == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(strategic_merge(None, p))
        else:
            out[idx] = strategic_merge(out[idx], p)
    return out


def _order_by(items, order, key):
    if key is None:
        return items
    rank = {json.dumps(o.get(key) if isinstance(o, dict) else o): i for i, o in enumerate(order)}
    known = [it for it in items if json.dumps(it.get(key)) in rank]
    rest = [it for it in items if json.dumps(it.get(key)) not in rank]
    known.sort(key=lambda it: rank[json.dumps(it.get(key))])
    return known + rest


def strategic_merge(target, patch):
    """Strategic merge of a patch map into target (both JSON values)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get(DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != DIRECTIVE}
    if directive not in (None, "merge", "delete"):
        raise bad_request("strategic merge patch: unknown $patch directive %r" % directive)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k in (DIRECTIVE, RETAIN_KEYS):
            continue
        if k.startswith(DELETE_PRIMITIVE):
            field = k[len(DELETE_PRIMITIVE):]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in (v or [])]
            continue
        if k.startswith(SET_ORDER):
            orders[k[len(SET_ORDER):]] = v or []
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            if v.get(DIRECTIVE) == "delete":
                result.pop(k, None)
            else:
                result[k] = strategic_merge(result.get(k), v)
        elif isinstance(v, list) and (k in MERGE_KEYS or k in MERGE_PRIMITIVE):
            result[k] = _strategic_list(k, result.get(k), v)
        elif isinstance(v, list):
            result[k] = [strategic_merge(None, x) if isinstance(x, dict) else copy.deepcopy(x)
                         for x in v]
        else:
            result[k] = copy.deepcopy(v)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _order_by(result[field], order, _merge_key(field, order))
    if RETAIN_KEYS in patch:
        keep = set(patch[RETAIN_KEYS] or [])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def parse_body(ctype, raw):
    """Decodes a patch body: YAML or JSON for apply, JSON otherwise."""
    try:
        if ctype == APPLY_PATCH:
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw.decode("utf-8"))
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise bad_request("error decoding patch: %s" % e)


def apply_patch(ctype, target, body):
    """Applies a decoded patch body to target (None for a missing object)."""
    if ctype == JSON_PATCH:
        return apply_json_patch(target, body)
    if not isinstance(body, dict):
        raise bad_request("patch body must be a JSON object for %s" % ctype)
    if ctype == STRATEGIC_PATCH:
        return strategic_merge(target, body)
    # merge patch and server-side apply (approximation: see module comment)
    return merge_patch(target, body)
