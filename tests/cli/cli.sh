#!/bin/sh
# The command line itself: help, version, suggestions, exit codes (moo(1)).
. "$MOO_SRC/tests/cli/lib.sh"
plan 36

expect_exit "moo --version exits 0" 0 "$MOO" --version
contains "--version prints the version" "$out" "moo 0."
expect_exit "moo --help exits 0" 0 "$MOO" --help
contains "--help lists validate" "$out" "validate"
contains "--help lists init" "$out" "init"
contains "--help names the exit codes" "$out" "3 invalid spec or bundle"
expect_exit "moo with no command is a usage error" 2 "$MOO"
contains "and prints the usage on stderr" "$err" "usage: moo"
expect_exit "a misspelt command exits 2" 2 "$MOO" valdate
contains "and suggests the nearest" "$err" "did you mean 'moo validate'?"
expect_exit "an unknown command with no near one exits 2" 2 "$MOO" frobnicate
contains "and points at --help" "$err" "moo: try 'moo --help'"
expect_exit "a misspelt option exits 2" 2 "$MOO" validate --jsn
contains "and suggests the nearest option" "$err" "did you mean '--json'?"
contains "and says how to get help for the verb" "$err" "moo: try 'moo validate --help'"
expect_exit "a flag given a value is refused" 2 "$MOO" validate --json=yes
expect_exit "an option missing its value is refused" 2 "$MOO" init --template
expect_exit "too many arguments are refused" 2 "$MOO" validate a b
expect_exit "moo help validate exits 0" 0 "$MOO" help validate
contains "and shows the verb's usage" "$out" "usage: moo validate [options] [PATH]"
expect_exit "moo validate --help matches moo help validate" 0 "$MOO" validate --help
help_out=$out
"$MOO" help validate >"$T/h2"
if [ "$help_out" = "$(cat "$T/h2")" ]; then ok "both help forms print the same"; else not_ok "both help forms print the same"; fi

# libarchive, libssh, libgit2 and libmicrohttpd are loaded on first use: a broken one does not stop moo from
# starting, and the command that needs it names the library and the package to install.
mkdir "$T/lib"
printf 'int moo_test_nothing;\n' >"$T/lib/x.c"
for so in libarchive.so.13 libssh.so.4 libgit2.so.1.5 libmicrohttpd.so.12; do
	cc -shared -fPIC -Wl,-soname,$so -o "$T/lib/$so" "$T/lib/x.c"
done
expect_exit "with a broken libarchive and libssh, moo --version still runs" 0 \
	env LD_LIBRARY_PATH="$T/lib" "$MOO" --version
expect_exit "moo inspect with a broken libarchive is a local failure (6)" 6 \
	env LD_LIBRARY_PATH="$T/lib" "$MOO" inspect "$MOO_SRC/examples/sklearn-diabetes"
contains "... naming the library and what it lacks" "$err" "cannot load libarchive: libarchive.so.13 has no"
contains "... and the package" "$err" "apt-get install libarchive13"
expect_exit "moo hosts check with a broken libssh is a local failure (6)" 6 \
	env LD_LIBRARY_PATH="$T/lib" MOO_HOME="$T/h" XDG_CONFIG_HOME="$T/c" "$MOO" hosts check nobody@127.0.0.1:1
contains "... naming the library" "$err" "cannot load libssh: libssh.so.4 has no"
expect_exit "moo serve with a broken libmicrohttpd is a local failure (6)" 6 \
	env LD_LIBRARY_PATH="$T/lib" MOO_HOME="$T/h" "$MOO" serve --port 0 "$MOO_SRC/examples/sklearn-diabetes"
contains "... naming the library and the package" "$err" "apt-get install libmicrohttpd12"
git init -q --bare "$T/models.git"
expect_exit "moo reproduce REPO@TAG with a broken libgit2 is a local failure (6)" 6 \
	env LD_LIBRARY_PATH="$T/lib" MOO_HOME="$T/h" "$MOO" reproduce "$T/models.git@v1"
contains "... naming the library and the package" "$err" "apt-get install libgit2-1.5"
expect_exit "a verb given too few arguments is a usage error" 2 "$MOO" diff a
contains "... saying what it takes and how many were given" "$err" "'moo diff' takes JOB1 JOB2; 1 given"
expect_exit "moo reproduce REPO@TAG of a path that is no repository exits 2" 2 "$MOO" reproduce "$T/none@v1"
contains "... with a hint to the published repositories" "$err" "'moo models' lists them"
done_testing
