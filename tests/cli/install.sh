#!/bin/sh
# meson install puts everything in place, and a program builds against the installed libmoo
# through pkg-config alone.
. "$MOO_SRC/tests/cli/lib.sh"
plan 11
D=$T/dest
if meson install -C "$MOO_BUILD" --destdir "$D" --no-rebuild >"$T/install.log" 2>&1; then
	ok "meson install --destdir succeeds"
else
	not_ok "meson install --destdir succeeds" "$(tail -20 "$T/install.log")"
fi
opt() { meson introspect "$MOO_BUILD" --buildoptions | $PY -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]))' "$1"; }
prefix=$(opt prefix)
# a sanitized libmoo needs its program built with the same runtime
san=$(opt b_sanitize)
[ "$san" = none ] && san= || san=-fsanitize=$san
cc=$(sed -n 's/^C compiler for the host machine: \([^ ]*\).*/\1/p' "$MOO_BUILD/meson-logs/meson-log.txt" | tail -n 1)
R=$D$prefix
check "the moo binary is installed" test -x "$R/bin/moo"
check "the shared library is installed" sh -c "ls '$R'/lib*/libmoo.so* '$R'/lib/*/libmoo.so* 2>/dev/null | grep -q ."
check "the umbrella header is installed" test -f "$R/include/moo.h"
check "the public headers are installed" test -f "$R/include/moo/spec.h"
check "man pages are installed" test -f "$R/share/man/man1/moo.1" -a -f "$R/share/man/man5/moo-metadata.5"
check "spec data is installed" test -f "$R/share/moo/spec/metadata.schema.json"
check "shell completion is installed (bash, zsh)" test -f "$R/share/bash-completion/completions/moo" -a -f "$R/share/zsh/site-functions/_moo"
pc=$(find "$D" -name libmoo.pc | head -n 1)
check "libmoo.pc is installed" test -n "$pc"
cat >"$T/use.c" <<'C'
#include <moo.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	static const char doc[] = "framework: {name: sklearn, version: 1, runtime: python3}\n"
				  "model: {name: m}\nentry_point: t.py\n";
	struct moo_spec *s = NULL;
	if (moo_spec_parse(&s, doc, strlen(doc), "x.yaml", NULL))
		return 1;
	printf("%s %s\n", moo_version(), s->framework.runtime.name);
	moo_spec_free(s);
	return 0;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR=$D PKG_CONFIG_PATH=${pc%/*} pkg-config --cflags --libs libmoo)
libdir=$(dirname "$(ls "$R"/lib*/libmoo.so "$R"/lib/*/libmoo.so 2>/dev/null | head -n 1)")
check "a program compiles against the installed libmoo via pkg-config" $cc $san -o "$T/use" "$T/use.c" $flags
out=$(LD_LIBRARY_PATH=$libdir "$T/use" 2>&1)
contains "and runs with it" "$out" " python"
done_testing
