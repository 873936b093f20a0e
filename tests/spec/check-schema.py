#!/usr/bin/python3
"""Check spec/metadata.schema.json against the spec corpus; print TAP.

usage: /usr/bin/python3 check-schema.py SCHEMA VALID_DIR INVALID_DIR

The schema must itself be valid (Draft 2020-12); every VALID_DIR/*.yaml must
validate; every INVALID_DIR/*.yaml must start with a "# expect: ..." line, load as
YAML, and be rejected by the schema with exactly one error (each file breaks one
rule). Documents are read as moo reads them (spec/metadata.md, "Reading the
file"): plain scalars by the YAML 1.2 core schema with decimal integers only
(yes/no/on/off, dates and 0x10 are strings); tags limited to the core ones,
!!int/!!float/!!bool/!!null requiring their plain form, !!timestamp kept as
text; merge keys applied after the mapping's own keys, which win; keys kept as
their text; duplicate keys refused.

Needs Debian's python3-yaml and python3-jsonschema (4.10 or later).
"""
import json
import os
import re
import sys

import jsonschema
import yaml


MERGE = "tag:yaml.org,2002:merge"
TAGS = {"tag:yaml.org,2002:" + t
        for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")} | {"!"}


class CoreLoader(yaml.SafeLoader):
    """SafeLoader reading YAML as moo does (see the module's docstring)."""

    def _check_tag(self):
        event = self.peek_event()
        if event.tag is not None and event.tag not in TAGS:
            raise yaml.composer.ComposerError(
                None, None, "unsupported tag %r" % event.tag, event.start_mark)

    def compose_scalar_node(self, anchor):
        self._check_tag()
        return super().compose_scalar_node(anchor)

    def compose_sequence_node(self, anchor):
        self._check_tag()
        return super().compose_sequence_node(anchor)

    def compose_mapping_node(self, anchor):
        self._check_tag()
        return super().compose_mapping_node(anchor)


CoreLoader.yaml_implicit_resolvers = {}
_NULL = r"^(?:~|null|Null|NULL|)$"
_BOOL = r"^(?:true|True|TRUE|false|False|FALSE)$"
_INT = r"^[-+]?[0-9]+$"
_FLOAT = (r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
          r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
for _tag, _rx, _first in [
        ("tag:yaml.org,2002:null", _NULL, list("~nN") + [""]),
        ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
        ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
        ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
        (MERGE, r"^<<$", ["<"])]:
    CoreLoader.add_implicit_resolver(_tag, re.compile(_rx), _first)


def _typed(rx, convert, what):
    """Constructor for a scalar whose text must be the type's plain form (also when tagged)."""
    def construct(loader, node):
        text = loader.construct_scalar(node)
        if not re.match(rx, text):
            raise yaml.constructor.ConstructorError(
                None, None, "%r is not %s" % (text, what), node.start_mark)
        return convert(text)
    return construct


def _float(text):
    t = text.lower().lstrip("+")
    if t in (".inf", "-.inf", ".nan"):
        return float(t.replace(".", ""))
    return float(text)


def _construct_text(loader, node):
    return loader.construct_scalar(node)


def _construct_mapping(loader, node):
    """Own keys first (duplicates refused); then merged keys, own and earlier ones winning."""
    mapping = {}
    merges = []
    for key_node, value_node in node.value:
        if key_node.tag == MERGE:
            merges.append(value_node)
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "mapping key is not a scalar", key_node.start_mark)
        key = key_node.value
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % key, key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
    for value_node in merges:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a merge key '<<' needs a mapping or a list of mappings",
                    src.start_mark)
            for k, v in loader.construct_object(src, deep=True).items():
                mapping.setdefault(k, v)
    return mapping


def _construct_map_node(loader, node):
    data = {}
    yield data
    data.update(_construct_mapping(loader, node))


CoreLoader.add_constructor("tag:yaml.org,2002:null", _typed(_NULL, lambda t: None, "null"))
CoreLoader.add_constructor("tag:yaml.org,2002:bool",
                           _typed(_BOOL, lambda t: t.lower() == "true", "a boolean"))
CoreLoader.add_constructor("tag:yaml.org,2002:int",
                           _typed(_INT, lambda t: int(t, 10), "an integer"))
CoreLoader.add_constructor("tag:yaml.org,2002:float",
                           _typed(r"%s|%s" % (_INT, _FLOAT), _float, "a number"))
CoreLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)
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
        except (yaml.YAMLError, UnicodeDecodeError, OSError, ValueError) as e:
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
