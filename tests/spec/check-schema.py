#!/usr/bin/python3
"""Check spec/metadata.schema.json against the spec corpus; print TAP.

usage: /usr/bin/python3 check-schema.py SCHEMA VALID_DIR INVALID_DIR

The schema must itself be valid (Draft 2020-12); every VALID_DIR/*.yaml must
validate; every INVALID_DIR/*.yaml must start with a "# expect: ..." line, load as
YAML, and be rejected by the schema with exactly one error (each file breaks one
rule). Documents are read as moo reads them (spec/metadata.md, "Reading the
file"): YAML 1.2 core scalars with decimal integers only (yes/no/on/off and
0x10 are strings, no timestamps, no merge keys), keys kept as their text,
duplicate keys refused.

Needs Debian's python3-yaml and python3-jsonschema (4.10 or later).
"""
import json
import os
import re
import sys

import jsonschema
import yaml


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema instead of YAML 1.1."""


CoreLoader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", list("~nN") + [""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+.0123456789")),
]
for _tag, _rx, _first in _RESOLVERS:
    CoreLoader.add_implicit_resolver(_tag, re.compile(_rx), _first)


def _construct_int(loader, node):
    return int(loader.construct_scalar(node), 10)


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)  # no merge resolver: '<<' stays a plain key
    mapping = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "mapping key is not a scalar", key_node.start_mark)
        key = key_node.value
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % key, key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _construct_map_node(loader, node):
    data = {}
    yield data
    data.update(_construct_mapping(loader, node, deep=True))


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreLoader.add_constructor("tag:yaml.org,2002:map", _construct_map_node)


def load(path):
    with open(path, "rb") as f:
        return yaml.load(f, Loader=CoreLoader)


def first_line(path):
    with open(path, "rb") as f:
        return f.readline().decode("utf-8", "replace").rstrip("\n")


def where(err):
    return "/" + "/".join(str(p) for p in err.absolute_path)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: %s SCHEMA VALID_DIR INVALID_DIR\n" % argv[0])
        return 2
    schema_path, valid_dir, invalid_dir = argv[1:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)

    cases = []
    for kind, d in (("valid", valid_dir), ("invalid", invalid_dir)):
        names = sorted(n for n in os.listdir(d) if n.endswith(".yaml"))
        if not names:
            sys.stderr.write("no .yaml files in %s\n" % d)
            return 2
        cases += [(kind, os.path.join(d, n), "%s/%s" % (kind, n)) for n in names]

    print("1..%d" % (len(cases) + 1))
    failed = 0
    n = 1
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        print("ok 1 - %s is a valid Draft 2020-12 schema" % os.path.basename(schema_path))
    except jsonschema.exceptions.SchemaError as e:
        print("not ok 1 - %s: %s" % (schema_path, e.message))
        print("Bail out! the schema is invalid")
        return 1
    validator = jsonschema.Draft202012Validator(schema)

    for kind, path, label in cases:
        n += 1
        try:
            doc = load(path)
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
            failed += 1
            msg = " ".join(str(e).split())
            print("not ok %d - %s: does not load: %s" % (n, label, msg))
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if kind == "valid":
            if errors:
                failed += 1
                print("not ok %d - %s: rejected at %s: %s"
                      % (n, label, where(errors[0]), errors[0].message))
            else:
                print("ok %d - %s" % (n, label))
            continue
        expect = first_line(path)
        if not expect.startswith("# expect: "):
            failed += 1
            print("not ok %d - %s: first line is not '# expect: ...'" % (n, label))
        elif not errors:
            failed += 1
            print("not ok %d - %s: accepted, expected: %s" % (n, label, expect[10:]))
        elif len(errors) > 1:
            failed += 1
            print("not ok %d - %s: %d errors, expected one (%s)"
                  % (n, label, len(errors), "; ".join(e.message for e in errors)))
        else:
            print("ok %d - %s" % (n, label))
            print("# expect: %s" % expect[10:])
            print("# schema: %s: %s" % (where(errors[0]), errors[0].message))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
