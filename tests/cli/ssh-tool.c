/*
 * ssh-tool: drives the SSH transport's operations one at a time, for the shell tests
 * (ssh-security.sh, hosts.sh) and for timing. Not installed.
 *
 *   ssh-tool HOST exec CMDLINE          prints stdout, then "status N" on stderr
 *   ssh-tool HOST read PATH OFFSET MAX  prints the bytes
 *   ssh-tool HOST write PATH TEXT
 *   ssh-tool HOST exists PATH           exit 0 or 1
 *   ssh-tool HOST mkdir PATH
 *   ssh-tool HOST put SRC DST
 *   ssh-tool HOST collect SRC CACHE     prints the local path
 *   ssh-tool HOST root                  prints the transport's root
 *   ssh-tool HOST bench FILE DIR N      connect, N exec round trips, put/collect of FILE
 *   ssh-tool HOST readcheck PATH TEXT   exit 1 unless the file holds TEXT
 * Operations separated by "+++" share one connection.
 * Failures print the error chain and exit 4 (host) or 6 (other), like moo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "../../libmoo/ssh.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(struct moo_error *err)
{
	int code = moo__error_code(err);
	struct moo_error *e;

	for (e = err; e; e = e->next) {
		fprintf(stderr, "ssh-tool: error: %s%s%s\n", e->message, e->cause ? ": " : "",
			e->cause ? e->cause : "");
		if (e->hint) {
			fprintf(stderr, "hint: %s\n", e->hint);
		}
	}
	moo_error_free(err);
	return code == MOO_EHOST ? 4 : code == MOO_ENOTFOUND ? 3 : 6;
}

static int bench(struct moo__transport *t, double t_open, const char *file, const char *dir, int n)
{
	struct moo_error *err = NULL;
	struct moo__ssh *c = moo__transport_ssh_session(t);
	struct moo_buf out = MOO_BUF_INIT, dst = MOO_BUF_INIT;
	struct stat st;
	char *local = NULL, hex[17];
	double t0, t_exec, t_put, t_get;
	int i, status, r;

	if (stat(file, &st) < 0) {
		perror(file);
		return 6;
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		moo_buf_reset(&out);
		if ((r = t->ops->exec(t, "echo hi", &out, NULL, &status, &err))) {
			return fail(err);
		}
	}
	t_exec = (now() - t0) / n;
	moo__random_hex(hex);
	moo_buf_printf(&dst, "%s/bench-%s", t->root, hex);
	t0 = now();
	if ((r = t->ops->mkdir_p(t, t->root, &err)) ||
	    (r = t->ops->put(t, file, dst.ptr, false, &err))) {
		return fail(err);
	}
	t_put = now() - t0;
	{
		struct moo_buf d2 = MOO_BUF_INIT;

		/* collect takes a folder: put the file in one */
		moo_buf_printf(&d2, "%s-dir", dst.ptr);
		if ((r = t->ops->mkdir_p(t, d2.ptr, &err))) {
			return fail(err);
		}
		moo_buf_reset(&out);
		moo_buf_puts(&out, "mv -- ");
		moo_buf_shquote(&out, dst.ptr);
		moo_buf_putc(&out, ' ');
		moo_buf_shquote(&out, d2.ptr);
		t->ops->exec(t, out.ptr, NULL, NULL, &status, &err);
		t0 = now();
		if ((r = t->ops->collect(t, d2.ptr, dir, &local, &err))) {
			return fail(err);
		}
		t_get = now() - t0;
		moo_buf_reset(&out);
		moo_buf_puts(&out, "rm -rf -- ");
		moo_buf_shquote(&out, d2.ptr);
		t->ops->exec(t, out.ptr, NULL, NULL, &status, &err);
		moo_buf_dispose(&d2);
	}
	printf("connect+kex %.1f ms, auth %.1f ms, open total %.1f ms\n", c->connect_s * 1e3,
	       c->auth_s * 1e3, t_open * 1e3);
	printf("exec round trip on the one sh: %.2f ms (mean of %d)\n", t_exec * 1e3, n);
	printf("put %.1f MB in %.3f s: %.0f MB/s\n", (double)st.st_size / 1e6, t_put,
	       (double)st.st_size / 1e6 / t_put);
	printf("collect %.1f MB in %.3f s: %.0f MB/s\n", (double)st.st_size / 1e6, t_get,
	       (double)st.st_size / 1e6 / t_get);
	printf("collected to %s\n", local);
	free(local);
	moo_buf_dispose(&out);
	moo_buf_dispose(&dst);
	return 0;
}

/* One operation: argv[0] is its name. Returns an exit status; *err on failure. */
static int do_op(struct moo__transport *t, double t_open, int argc, char **argv,
		 struct moo_error **err)
{
	struct moo_buf out = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	const char *op = argv[0];
	int r = 0, status = 0;

	if (!strcmp(op, "exec") && argc == 2) {
		r = t->ops->exec(t, argv[1], &out, &errout, &status, err);
		if (!r) {
			fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
			fwrite(errout.ptr ? errout.ptr : "", 1, errout.len, stderr);
			fprintf(stderr, "status %d\n", status);
		}
	} else if ((!strcmp(op, "read") && argc == 4) || (!strcmp(op, "readcheck") && argc == 3)) {
		bool check = !strcmp(op, "readcheck");

		r = t->ops->read_file(t, argv[1], check ? 0 : strtoull(argv[2], NULL, 10),
				      check ? 1 << 20 : strtoull(argv[3], NULL, 10), &out, err);
		if (!r && !check) {
			fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
		}
		if (!r && check &&
		    (out.len != strlen(argv[2]) || memcmp(out.ptr, argv[2], out.len))) {
			fprintf(stderr, "ssh-tool: read '%s' differs\n", argv[1]);
			status = 1;
		}
	} else if (!strcmp(op, "write") && argc == 3) {
		r = t->ops->write_file(t, argv[1], argv[2], strlen(argv[2]), 0644, err);
	} else if (!strcmp(op, "exists") && argc == 2) {
		status = t->ops->exists(t, argv[1]) ? 0 : 1;
	} else if (!strcmp(op, "mkdir") && argc == 2) {
		r = t->ops->mkdir_p(t, argv[1], err);
	} else if (!strcmp(op, "put") && argc == 3) {
		r = t->ops->put(t, argv[1], argv[2], getenv("MOO_PUT_MOVE") != NULL, err);
	} else if (!strcmp(op, "collect") && argc == 3) {
		char *local = NULL;

		r = t->ops->collect(t, argv[1], argv[2], &local, err);
		if (!r) {
			printf("%s\n", local);
			free(local);
		}
	} else if (!strcmp(op, "root") && argc == 1) {
		printf("%s\n", t->root);
	} else if (!strcmp(op, "bench") && argc == 4) {
		status = bench(t, t_open, argv[1], argv[2], (int)strtol(argv[3], NULL, 10));
	} else {
		fprintf(stderr, "ssh-tool: bad operation '%s'\n", op);
		status = 2;
	}
	moo_buf_dispose(&out);
	moo_buf_dispose(&errout);
	if (r == MOO_ENOTFOUND && !*err) {
		fprintf(stderr, "ssh-tool: not found\n");
		return 3;
	}
	return r ? -1 : status;
}

/* Operations separated by '+++' run one after the other on one connection. */
int main(int argc, char **argv)
{
	struct moo__transport *t = NULL;
	struct moo_error *err = NULL;
	unsigned flags = getenv("MOO_ACCEPT_NEW") ? MOO__SSH_ACCEPT_NEW : 0;
	double t0;
	int i, j, status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: ssh-tool HOST OP [ARGS] [+++ OP [ARGS]]...\n");
		return 2;
	}
	t0 = now();
	/* MOO_TOOL_KEPT: as moo's verbs open a host, through its kept connection if any */
	moo_keep_connections(getenv("MOO_TOOL_KEPT") != NULL);
	if (getenv("MOO_TOOL_KEPT") ? moo__transport_open_flags(&t, argv[1], flags, &err)
				    : moo__transport_ssh_open(&t, argv[1], flags, 0, &err)) {
		return fail(err);
	}
	t0 = now() - t0;
	for (i = 2; i < argc && !status; i = j + 1) {
		for (j = i; j < argc && strcmp(argv[j], "+++"); j++) {
		}
		status = do_op(t, t0, j - i, argv + i, &err);
	}
	moo__transport_close(t);
	return status < 0 ? fail(err) : status;
}
