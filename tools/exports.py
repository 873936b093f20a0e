#!/usr/bin/python3
"""What libmoo.so exports against what its public headers declare.

    exports.py LIBMOO_SO LIBMOO_DIR

A TAP test. libmoo is built with -fvisibility=hidden and libmoo.sym: a function is exported
when its public header (LIBMOO_DIR/include/moo/*.h) declares it MOO_EXTERN. Checks:
  1. every exported name is declared in a public header (an internal helper that gained
     MOO_EXTERN, or a header that kept a name after it moved to libmoo/internal.h, fails);
  2. no internal helper is exported: no moo__ name, and none of the helpers made internal
     before 1.0 (INTERNAL below) under its old public name;
  3. every name a public header declares is exported (no declaration without a definition).
"""
import glob
import os
import re
import subprocess
import sys

# Helpers that were exported by mistake and made internal (moo__, libmoo/internal.h) before
# 1.0 (issue 11): exporting one again under its old name fails check 2.
INTERNAL = {"moo_suggest", "moo_edit_distance", "moo_store_cache_get", "moo_store_cache_put",
            "moo_host_probe_script", "moo_lock_local", "moo_job_root", "moo_plan_pin",
            "moo_plan_dup", "moo_publish_checkout", "moo_publish_read",
            "moo_store_add_publication", "moo_store_default_path", "moo_replay_run_opts"}


def exported(so):
    out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3 and f[1] in "TDBRVWi" and not f[2].startswith("LIBMOO"):
            names.add(f[2].split("@")[0])
    return names


def declared(pattern, prefix):
    """{name: header} of the functions declared with prefix in the headers of pattern."""
    names = {}
    for h in sorted(glob.glob(pattern)):
        text = re.sub(r"/\*.*?\*/", "", open(h).read(), flags=re.S)
        for m in re.finditer(prefix + r"[^;{}]*?\b(moo_\w+)\s*\(", text, re.S):
            names[m.group(1)] = os.path.basename(h)
    return names


def check(n, ok, what, bad):
    print(("ok %d - %s" if ok else "not ok %d - %s") % (n, what))
    for b in sorted(bad):
        print("# " + b)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: exports.py LIBMOO_SO LIBMOO_DIR")
    exp = exported(sys.argv[1])
    dec = declared(os.path.join(sys.argv[2], "include", "moo", "*.h"), r"MOO_EXTERN\b")
    print("1..3")
    extra = {s for s in exp if s not in dec and not s.startswith("moo__")}
    check(1, not extra, "every name libmoo.so exports is declared in a public header",
          ["%s is exported but no public header declares it: declare it in the header of "
           "the file that defines it, or make it internal (moo__, libmoo/internal.h)" % s
           for s in extra])
    inner = {s for s in exp if s.startswith("moo__") or s in INTERNAL}
    check(2, not inner, "no internal helper is exported",
          ["%s is exported, but it is internal (moo__, libmoo/internal.h)" % s
           for s in inner])
    missing = {s for s in dec if s not in exp}
    check(3, not missing, "every name the public headers declare is exported",
          ["%s is declared in moo/%s but libmoo.so does not export it (dead declaration?)"
           % (s, dec[s]) for s in missing])


main()
