#!/usr/bin/python3
"""Calls between libmoo's files, read with nm from the objects of libmoo's static archive.

    callgraph.py ARCHIVE [--dot]

A TAP test: "no call cycle between libmoo's files", then the calls docs/ARCHITECTURE.md
forbids (FORBIDDEN below: the probe runs over a transport, not SSH; transport_local.c never
names SSH; config.c does not parse the image table; registry.c reads no configuration). When files call each other
round in a circle, it names each cycle and the calls that close it, and fails. With --dot
it prints the whole graph for Graphviz instead (docs/ARCHITECTURE.md is drawn from it).
"""
import subprocess
import sys


def members(archive):
    """{object name: (defined symbols, undefined symbols)} of each member of ARCHIVE."""
    out = subprocess.run(["nm", archive], capture_output=True, text=True, check=True).stdout
    objs, cur = {}, None
    for line in out.splitlines():
        if line.endswith(".o:"):
            cur = line[:-1].rsplit("/", 1)[-1].replace(".c.o", "").replace("util_", "util/")
            cur = cur.replace("meson-generated_.._", "")
            objs[cur] = (set(), set())
            continue
        f = line.split()
        if cur is None or len(f) < 2:
            continue
        if f[-2] == "U":
            objs[cur][1].add(f[-1])
        elif f[-2] in "TDBRVW":
            objs[cur][0].add(f[-1])
    return objs


# (caller, callee, why): calls that would undo a boundary of docs/ARCHITECTURE.md.
FORBIDDEN = [
    ("probe", "ssh", "the probe runs over a transport only (transport.c opens it)"),
    ("probe", "transport_ssh", "the probe runs over a transport only (transport.c opens it)"),
    ("probe", "transport_local", "transports are opened by transport.c only"),
    ("transport_local", "ssh", "transport_local.c never names SSH"),
    ("transport_local", "transport_ssh", "transport_local.c never names SSH"),
    ("config", "images", "config.c keeps images: as text; images.c parses it"),
    ("registry", "config", "registry.c gets its settings as a value"),
    ("hostfacts", "probe", "host facts are data: hostfacts.c does no I/O"),
    ("hostfacts", "transport", "host facts are data: hostfacts.c does no I/O"),
    ("store", "probe", "the store keeps facts as data (hostfacts.c), it never probes"),
]


def cycles(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            c = []
            while True:
                w = stack.pop()
                on.discard(w)
                c.append(w)
                if w == v:
                    break
            if len(c) > 1:
                comps.append(sorted(c))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return comps


def main():
    objs = members(sys.argv[1])
    owner = {s: o for o, (d, _) in objs.items() for s in d}
    edges = {o: sorted({owner[s] for s in u if s in owner and owner[s] != o})
             for o, (_, u) in objs.items()}
    if "--dot" in sys.argv:
        print("digraph libmoo {")
        for a in sorted(edges):
            for b in edges[a]:
                print('  "%s" -> "%s";' % (a, b))
        print("}")
        return 0
    found = cycles(edges)
    print("1..2")
    for c in found:
        print("# cycle: " + " ".join(c))
        for a in c:
            print("#   %s calls %s" % (a, ", ".join(b for b in edges[a] if b in c)))
    print(("not ok" if found else "ok") + " 1 - no call cycle between libmoo's files")
    bad = [(a, b, why) for a, b, why in FORBIDDEN if b in edges.get(a, [])]
    for a, b, why in bad:
        print("# %s calls %s (%s): %s" % (a, b, ", ".join(sorted(
            s for s in objs[a][1] if owner.get(s) == b)), why))
    print(("not ok" if bad else "ok") + " 2 - no call across a boundary docs/ARCHITECTURE.md draws")
    return 1 if found or bad else 0


if __name__ == "__main__":
    sys.exit(main())
