"""Form decoding of Stripe's nested parameters and validation against spec3.json.

decode_form("items[0][price]=p&metadata[k]=v&expand[]=a") ->
    {"items": [{"price": "p"}], "metadata": {"k": "v"}, "expand": ["a"]}

Spec(path).validate(method, template, params) checks the decoded parameters
against the operation's form body schema (POST; DELETE too) or its query
parameters (GET, DELETE) and returns them coerced (integers, booleans); it
raises emu_errors.StripeError with Stripe's parameter_unknown, parameter_missing,
parameter_invalid_* errors otherwise.
"""
import json
import re
import urllib.parse

import emu_errors as E


# ---- form decoding -------------------------------------------------------
def _split_key(key):
    i = key.find("[")
    if i <= 0 or not key.endswith("]"):
        return [key]
    parts, rest = [key[:i]], key[i:]
    while rest:
        if not rest.startswith("["):
            return [key]
        j = rest.find("]")
        if j < 0:
            return [key]
        parts.append(rest[1:j])
        rest = rest[j + 1:]
    return parts


def _insert(node, parts, value):
    head, rest = parts[0], parts[1:]
    if not rest:
        if head == "" and isinstance(node, list):
            node.append(value)
        elif isinstance(node, dict):
            node[head] = value
        return
    nxt = rest[0]
    if nxt == "":
        # head[] ...: a list
        lst = node.get(head) if isinstance(node, dict) else None
        if not isinstance(lst, list):
            lst = []
            node[head] = lst
        if len(rest) == 1:
            lst.append(value)
            return
        # head[][k]...: start a new element when the last one already has k
        k = rest[1]
        if not lst or not isinstance(lst[-1], dict) or (k in lst[-1] and len(rest) == 2):
            lst.append({})
        _insert(lst[-1], rest[1:], value)
        return
    child = node.get(head)
    if not isinstance(child, dict):
        child = {}
        node[head] = child
    _insert(child, rest, value)


def _listify(v):
    """Dicts keyed exactly "0".."n-1" become lists (items[0][price] -> list)."""
    if isinstance(v, list):
        return [_listify(x) for x in v]
    if not isinstance(v, dict):
        return v
    out = {k: _listify(x) for k, x in v.items()}
    if out and all(k.isdigit() for k in out):
        idx = sorted(int(k) for k in out)
        if idx == list(range(len(idx))) and all(str(i) in out for i in idx):
            return [out[str(i)] for i in idx]
    return out


def decode_pairs(pairs):
    root = {}
    for k, v in pairs:
        _insert(root, _split_key(k), v)
    return _listify(root)


def decode_form(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return decode_pairs(urllib.parse.parse_qsl(text, keep_blank_values=True))


def encode_form(params, prefix=""):
    """The inverse (used by the tests): nested dicts/lists -> form pairs."""
    pairs = []
    if isinstance(params, dict):
        for k, v in params.items():
            pairs += encode_form(v, "%s[%s]" % (prefix, k) if prefix else k)
    elif isinstance(params, (list, tuple)):
        for i, v in enumerate(params):
            pairs += encode_form(v, "%s[%d]" % (prefix, i))
    elif isinstance(params, bool):
        pairs.append((prefix, "true" if params else "false"))
    elif params is not None:
        pairs.append((prefix, str(params)))
    return pairs


# ---- spec ----------------------------------------------------------------
def template_regex(template):
    pat = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile("^" + pat + "$")


class Spec:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.doc = json.load(f)
        self.version = self.doc.get("info", {}).get("version")
        self.schemas = self.doc["components"]["schemas"]
        self.ops = {}
        for tmpl, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in ("get", "post", "delete"):
                    self.ops[(method.upper(), tmpl)] = op
        # literal templates first, then by fewer variables
        self.templates = sorted({t for _, t in self.ops},
                                key=lambda t: (t.count("{"), -len(t)))
        self._rx = {t: template_regex(t) for t in self.templates}
        self._param_schema = {}

    def match(self, method, path):
        """(template, path params) of the spec operation for METHOD PATH, or None."""
        for t in self.templates:
            m = self._rx[t].match(path)
            if m and (method, t) in self.ops:
                return t, m.groupdict()
        return None

    def resolve(self, schema):
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def operation_id(self, method, template):
        op = self.ops.get((method, template))
        return op and op.get("operationId")

    def params_schema(self, method, template):
        """One object schema for everything the operation accepts."""
        key = (method, template)
        if key in self._param_schema:
            return self._param_schema[key]
        op = self.ops.get(key)
        if op is None:
            return None
        props, required = {}, []
        for p in op.get("parameters", []):
            if p.get("in") == "query":
                props[p["name"]] = p.get("schema", {})
                if p.get("required"):
                    required.append(p["name"])
        body = (op.get("requestBody", {}).get("content", {})
                .get("application/x-www-form-urlencoded", {}).get("schema"))
        if body:
            body = self.resolve(body)
            props.update(body.get("properties", {}))
            required += body.get("required", [])
        schema = {"type": "object", "properties": props, "required": required}
        self._param_schema[key] = schema
        return schema

    def validate(self, method, template, params):
        schema = self.params_schema(method, template)
        if schema is None:
            return params
        return self._check(schema, params, "", required=True)

    # -- one value against one schema --
    def _check(self, schema, value, name, required=False):
        schema = self.resolve(schema)
        if "anyOf" in schema:
            return self._any_of(schema, value, name, required)
        t = schema.get("type")
        if t is None and not schema.get("properties") and "enum" not in schema:
            return value
        if t == "object" or (t is None and "properties" in schema):
            return self._object(schema, value, name)
        if t == "array":
            return self._array(schema, value, name)
        if isinstance(value, (dict, list)):
            raise E.invalid_type(name, t or "string", json.dumps(value))
        if t == "integer":
            if not re.fullmatch(r"-?\d+", value):
                raise E.invalid_integer(name, value)
            return int(value)
        if t == "number":
            try:
                return float(value) if "." in value else int(value)
            except ValueError:
                raise E.invalid_decimal(name, value)
        if t == "boolean":
            if value not in ("true", "false"):
                raise E.invalid_boolean(name, value)
            return value == "true"
        # string (or untyped)
        enum = schema.get("enum")
        if enum is not None and value not in enum and not schema.get("x-stripeBypassValidation"):
            if enum == [""]:
                raise E.invalid_type(name, "string", value)
            raise E.invalid_enum(name, enum)
        if value == "" and required and enum is None:
            raise E.invalid_empty(name)
        limit = schema.get("maxLength")
        if limit and len(value) > limit:
            raise E.too_long(name, value, limit)
        return value

    def _any_of(self, schema, value, name, required):
        alts = [self.resolve(a) for a in schema["anyOf"]]

        def pref(alt):
            t = alt.get("type") or ("object" if "properties" in alt else None)
            if isinstance(value, dict):
                return {"object": 0, "array": 1}.get(t, 2)
            if isinstance(value, list):
                return {"array": 0, "object": 1}.get(t, 2)
            if alt.get("enum") == [""]:
                return -1 if value == "" else 4
            return {"object": 3, "array": 3}.get(t, 1)

        errors = []
        for alt in sorted(alts, key=pref):
            try:
                return self._check(alt, value, name, required)
            except E.StripeError as e:
                errors.append(e)
        raise errors[0]

    def _object(self, schema, value, name):
        if isinstance(value, list):
            value = {str(i): v for i, v in enumerate(value)}
        if not isinstance(value, dict):
            raise E.invalid_type(name, "object")
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        free = props is None and addl is None
        required = schema.get("required", [])
        out = {}
        for k, v in value.items():
            sub = "%s[%s]" % (name, k) if name else k
            if props is not None and k in props:
                out[k] = self._check(props[k], v, sub, required=k in required)
            elif isinstance(addl, dict):
                out[k] = self._check(addl, v, sub)
            elif addl is True or free:
                out[k] = v
            else:
                raise E.unknown_param(sub)
        for r in required:
            if r not in value:
                raise E.missing_param("%s[%s]" % (name, r) if name else r)
        return out

    def _array(self, schema, value, name):
        if isinstance(value, dict):
            if value and all(k.isdigit() for k in value):
                value = [value[k] for k in sorted(value, key=int)]
            else:
                raise E.invalid_type(name, "array")
        if not isinstance(value, list):
            raise E.invalid_type(name, "array")
        items = schema.get("items", {})
        return [self._check(items, v, "%s[%d]" % (name, i)) for i, v in enumerate(value)]

    # ---- response shapes (used by the tests) ----
    def shape_errors(self, schema_name, obj):
        errs = []
        self._shape({"$ref": "#/components/schemas/" + schema_name}, obj, schema_name, errs)
        return errs

    def _shape(self, schema, value, path, errs):
        schema = self.resolve(schema)
        if value is None:
            if not schema.get("nullable") and "anyOf" not in schema:
                errs.append("%s: null but not nullable" % path)
            return
        if "anyOf" in schema:
            best = None
            for alt in schema["anyOf"]:
                e = []
                self._shape(alt, value, path, e)
                if not e:
                    return
                if best is None or len(e) < len(best):
                    best = e
            errs.extend(best or ["%s: matches no alternative" % path])
            return
        t = schema.get("type")
        if t == "object" or "properties" in schema:
            if not isinstance(value, dict):
                errs.append("%s: expected object" % path)
                return
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            for k, v in value.items():
                if props is not None and k in props:
                    self._shape(props[k], v, "%s.%s" % (path, k), errs)
                elif isinstance(addl, dict):
                    self._shape(addl, v, "%s.%s" % (path, k), errs)
                elif props is not None and not addl and props:
                    errs.append("%s.%s: not in the spec" % (path, k))
            for r in schema.get("required", []):
                if r not in value:
                    errs.append("%s.%s: required but missing" % (path, r))
        elif t == "array":
            if not isinstance(value, list):
                errs.append("%s: expected array" % path)
                return
            for i, v in enumerate(value):
                self._shape(schema.get("items", {}), v, "%s[%d]" % (path, i), errs)
        elif t == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                errs.append("%s: expected integer" % path)
        elif t == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errs.append("%s: expected number" % path)
        elif t == "boolean":
            if not isinstance(value, bool):
                errs.append("%s: expected boolean" % path)
        elif t == "string":
            if not isinstance(value, str):
                errs.append("%s: expected string" % path)
            elif schema.get("enum") and value not in schema["enum"]:
                errs.append("%s: %r not in %s" % (path, value, schema["enum"]))
