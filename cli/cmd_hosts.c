/* moo hosts: the inventory of hosts in config.yaml, their keys, and what they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cli.h"

static const char *address, *user, *key, *known_hosts, *root, *runtime;
static long port = -1, timeout_s;
static bool json, accept_new, force;

static const struct opt opts[] = {
	{0, "address", "ADDRESS", "add: the host name or IP address to connect to", OPT_STRING,
	 &address},
	{0, "user", "USER", "add: the user to log in as", OPT_STRING, &user},
	{0, "port", "PORT", "add: the SSH port (default 22)", OPT_INT, &port},
	{0, "key", "FILE", "add: the private key to log in with", OPT_STRING, &key},
	{0, "known-hosts", "FILE", "add: the known_hosts file for this host", OPT_STRING,
	 &known_hosts},
	{0, "root", "DIR", "add, check: moo's job folder on the host", OPT_STRING, &root},
	{0, "runtime", "NAME", "add: docker, podman, apptainer, singularity or host", OPT_STRING,
	 &runtime},
	{0, "accept-new-host-key", NULL, "check: record an unknown host key in known_hosts",
	 OPT_FLAG, &accept_new},
	{0, "timeout", "SECONDS", "trust, check: the connect timeout (default 10)", OPT_INT,
	 &timeout_s},
	{0, "json", NULL, "ls, check: print JSON", OPT_FLAG, &json},
	{'f', "force", NULL, "rm: remove it even while jobs on it are queued or running", OPT_FLAG,
	 &force},
	OPT_END,
};

static int fail(struct moo_error *err)
{
	int code = err ? err->code : 0;
	int x = print_errors(err);

	moo_error_free(err);
	return code == MOO_EEXIST ? EXIT_USAGE : x;
}

static int load(struct moo_config **cfg)
{
	struct moo_error *err = NULL;

	if (moo_config_load(cfg, NULL, &err)) {
		return fail(err);
	}
	return -1;
}

static int do_add(const struct cmd *self, const char *name)
{
	struct moo_host_entry h = {0};
	struct moo_config *cfg = NULL;
	struct moo_error *err = NULL;
	int r;

	if (!address) {
		return usage_error(self, "add '--address ADDRESS'",
				   "'moo hosts add' needs --address");
	}
	if (port != -1 && (port < 1 || port > 65535)) {
		return usage_error(self, NULL, "port %ld is out of range (1 to 65535)", port);
	}
	if ((r = load(&cfg)) >= 0) {
		return r;
	}
	h.name = (char *)name;
	h.address = (char *)address;
	h.user = (char *)user;
	h.port = port == -1 ? 0 : (unsigned)port;
	h.key = (char *)key;
	h.known_hosts = (char *)known_hosts;
	h.root = (char *)root;
	h.runtime = (char *)runtime;
	if (moo_config_add_host(cfg, &h, &err) || moo_config_save(cfg, &err)) {
		moo_config_free(cfg);
		return fail(err);
	}
	printf("added host '%s' to %s\n", name, cfg->path);
	printf("next: 'moo hosts trust %s' records its key, 'moo hosts check %s' probes it\n", name,
	       name);
	moo_config_free(cfg);
	return EXIT_OK;
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* What the store last saw of name, or NULL. */
static const struct moo_host_seen *seen_of(const struct moo_host_seen *v, size_t n,
					   const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!strcmp(v[i].name, name)) {
			return &v[i];
		}
	}
	return NULL;
}

static json_t *seen_json(const struct moo_host_seen *s)
{
	struct moo_buf b = MOO_BUF_INIT;
	json_t *j;

	if (!s) {
		return json_null();
	}
	moo_host_facts_to_json(&b, s->facts);
	j = json_loads(b.ptr, 0, NULL);
	moo_buf_dispose(&b);
	return j ? j : json_null();
}

/* "x86_64, 16 cpus, 62.8 GiB, 1 gpu, checked 5 min ago" */
static void seen_line(char *out, size_t n, const struct moo_host_seen *s, double now)
{
	const struct moo_host_facts *f = s->facts;
	double age = now - s->checked;
	char mem[32], ago[32];

	format_size(mem, sizeof(mem), f->mem_total);
	if (age < 120) {
		snprintf(ago, sizeof(ago), "%.0f s", age < 0 ? 0 : age);
	} else if (age < 7200) {
		snprintf(ago, sizeof(ago), "%.0f min", age / 60);
	} else if (age < 172800) {
		snprintf(ago, sizeof(ago), "%.0f h", age / 3600);
	} else {
		snprintf(ago, sizeof(ago), "%.0f days", age / 86400);
	}
	snprintf(out, n, "%s, %u cpus, %s, %zu gpu%s%s, checked %s ago", f->arch ? f->arch : "?",
		 f->cpus, mem, f->n_gpus + f->n_npus, f->n_gpus + f->n_npus == 1 ? "" : "s",
		 f->n_npus ? " (npu)" : "", ago);
}

static int do_ls(const struct cmd *self, const char *none)
{
	struct moo_config *cfg = NULL;
	struct moo_store *st = NULL;
	struct moo_host_seen *seen = NULL;
	struct moo_error *err = NULL;
	size_t i, n_seen = 0;
	double t = (double)time(NULL);
	int r;

	(void)self;
	(void)none;
	if ((r = load(&cfg)) >= 0) {
		return r;
	}
	if ((r = open_store(&st)) >= 0) {
		moo_config_free(cfg);
		return r;
	}
	if (moo_store_list_hosts(&seen, &n_seen, st, &err)) {
		moo_store_close(st);
		moo_config_free(cfg);
		return fail(err);
	}
	moo_store_close(st);
	if (json) {
		json_t *a = json_array();

		for (i = 0; i < cfg->n_hosts; i++) {
			const struct moo_host_entry *h = &cfg->hosts[i];
			const struct moo_host_seen *s = seen_of(seen, n_seen, h->name);
			json_t *o = json_object();

			json_object_set_new(o, "name", json_string(h->name));
			json_object_set_new(o, "inventory", json_true());
			json_object_set_new(o, "address", jstr(h->address));
			json_object_set_new(o, "user", jstr(h->user));
			json_object_set_new(o, "port",
					    h->port ? json_integer(h->port) : json_null());
			json_object_set_new(o, "key", jstr(h->key));
			json_object_set_new(o, "known_hosts", jstr(h->known_hosts));
			json_object_set_new(o, "root", jstr(h->root));
			json_object_set_new(o, "runtime", jstr(h->runtime));
			json_object_set_new(o, "checked", s ? json_time(s->checked) : json_null());
			json_object_set_new(o, "facts", seen_json(s));
			json_array_append_new(a, o);
		}
		for (i = 0; i < n_seen; i++) { /* checked by a name the inventory lacks */
			json_t *o;

			if (moo_config_host(cfg, seen[i].name)) {
				continue;
			}
			o = json_object();
			json_object_set_new(o, "name", json_string(seen[i].name));
			json_object_set_new(o, "inventory", json_false());
			json_object_set_new(o, "checked", json_time(seen[i].checked));
			json_object_set_new(o, "facts", seen_json(&seen[i]));
			json_array_append_new(a, o);
		}
		print_json(a);
	} else if (!cfg->n_hosts && !n_seen) {
		printf("no hosts in %s; add one with 'moo hosts add NAME --address ADDRESS'\n",
		       cfg->path);
	} else {
		char line[160];

		printf("%-16s %-24s %-10s %-5s %-14s %s\n", "NAME", "ADDRESS", "USER", "PORT",
		       "ROOT", "LAST SEEN");
		for (i = 0; i < cfg->n_hosts; i++) {
			const struct moo_host_entry *h = &cfg->hosts[i];
			const struct moo_host_seen *s = seen_of(seen, n_seen, h->name);
			char p[16];

			snprintf(p, sizeof(p), "%u", h->port ? h->port : 22);
			if (s) {
				seen_line(line, sizeof(line), s, t);
			}
			printf("%-16s %-24s %-10s %-5s %-14s %s\n", h->name, h->address,
			       h->user ? h->user : "-", p, h->root ? h->root : "-",
			       s ? line : "never checked");
		}
		for (i = 0; i < n_seen; i++) {
			if (moo_config_host(cfg, seen[i].name)) {
				continue;
			}
			seen_line(line, sizeof(line), &seen[i], t);
			printf("%-16s %-24s %-10s %-5s %-14s %s\n", seen[i].name, "-", "-", "-",
			       "-", line);
		}
	}
	moo_host_seen_free(seen, n_seen);
	moo_config_free(cfg);
	return EXIT_OK;
}

/*
 * The jobs recorded as queued or running on the host: a host removed under them leaves them
 * unreachable, so 'hosts rm' names them and goes on only with --force. Returns how many.
 */
static size_t live_jobs(const char *name)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_store *st = NULL;
	struct moo_job **jobs = NULL;
	struct moo_error *err = NULL;
	size_t n = 0, i;

	f.status_mask = 1u << MOO_JOB_QUEUED | 1u << MOO_JOB_RUNNING;
	f.host = name;
	if (open_store(&st) >= 0 || moo_store_list_jobs(&jobs, &n, st, &f, &err)) {
		moo_error_free(err);
		moo_store_close(st);
		return 0;
	}
	for (i = 0; i < n; i++) {
		fprintf(stderr, "moo: %s: job %s on '%s' is %s\n", force ? "warning" : "error",
			jobs[i]->id, name, moo_job_status_name(jobs[i]->status));
	}
	moo_jobs_free(jobs, n);
	moo_store_close(st);
	return n;
}

/* Forgets what 'moo hosts check' recorded of name: 0, or MOO_ENOTFOUND when nothing was. */
static int forget_facts(const char *name)
{
	struct moo_store *st = NULL;
	struct moo_error *err = NULL;
	int r;

	if (open_store(&st) >= 0) {
		return MOO_ENOTFOUND;
	}
	if ((r = moo_store_remove_host_facts(st, name, &err)) && r != MOO_ENOTFOUND) {
		print_errors(err);
	}
	moo_error_free(err);
	moo_store_close(st);
	return r;
}

static int do_rm(const struct cmd *self, const char *name)
{
	struct moo_config *cfg = NULL;
	struct moo_error *err = NULL;
	int r;

	(void)self;
	if ((r = load(&cfg)) >= 0) {
		return r;
	}
	if (live_jobs(name) && !force) {
		fprintf(stderr,
			"hint: wait for them or cancel them (moo cancel JOB); 'moo hosts rm "
			"--force %s' removes the host anyway, and 'moo rm JOB' then forgets "
			"its jobs\n",
			name);
		moo_config_free(cfg);
		return EXIT_USAGE;
	}
	moo_host_disconnect(name); /* its kept connection, while its entry still names it */
	if (moo_config_remove_host(cfg, name, &err)) {
		moo_config_free(cfg);
		/* a host only checked (user@address:port, a Host of ~/.ssh/config), as ls lists */
		if (forget_facts(name) == 0) {
			moo_error_free(err);
			printf("forgot host '%s' (checked, not in the inventory)\n", name);
			return EXIT_OK;
		}
		return fail(err);
	}
	if (moo_config_save(cfg, &err)) {
		moo_config_free(cfg);
		return fail(err);
	}
	forget_facts(name); /* a new host of that name is not shown what this one was */
	printf("removed host '%s' from %s\n", name, cfg->path);
	moo_config_free(cfg);
	return EXIT_OK;
}

static int do_trust(const struct cmd *self, const char *host)
{
	struct moo_connect_opts o = MOO_CONNECT_OPTS_INIT;
	struct moo_host_key k = {0};
	struct moo_error *err = NULL;

	(void)self;
	o.timeout_s = (int)timeout_s;
	if (moo_host_trust(&k, host, &o, &err)) {
		return fail(err);
	}
	printf("%s: %s key %s\n", k.display, k.type, k.fingerprint);
	if (k.added) {
		printf("added to %s\n", k.known_hosts);
	} else {
		printf("already known in %s\n", k.known_hosts);
	}
	moo_host_key_dispose(&k);
	return EXIT_OK;
}

static void print_facts(const struct moo_host_facts *f)
{
	char a[32], b[32];
	size_t i;

	if (f->key.display) {
		printf("%-10s %s (%s key %s%s)\n", "host", f->key.display, f->key.type,
		       f->key.fingerprint, f->key.added ? ", just added to known_hosts" : "");
		printf("%-10s connect %.1f ms, auth %.1f ms, probe %.1f ms\n", "timing",
		       f->connect_s * 1e3, f->auth_s * 1e3, f->probe_s * 1e3);
	} else { /* this machine: no connection, no key */
		printf("%-10s local (this machine)\n", "host");
		printf("%-10s probe %.1f ms\n", "timing", f->probe_s * 1e3);
	}
	printf("%-10s %s, kernel %s, %s\n", "os", f->os_name ? f->os_name : "unknown",
	       f->kernel ? f->kernel : "?", f->arch ? f->arch : "?");
	printf("%-10s %u\n", "cpus", f->cpus);
	format_size(a, sizeof(a), f->mem_total);
	format_size(b, sizeof(b), f->mem_available);
	printf("%-10s %s total, %s available\n", "memory", a, b);
	format_size(a, sizeof(a), f->disk_free);
	printf("%-10s %s free for %s\n", "disk", a, f->root ? f->root : "?");
	if (!f->n_gpus) {
		printf("%-10s none\n", "gpus");
	}
	for (i = 0; i < f->n_gpus; i++) {
		const struct moo_gpu *g = &f->gpus[i];

		printf("%-10s %u: %s, %llu MiB (%llu used), compute %s, driver %s, CUDA %s\n",
		       i ? "" : "gpus", g->index, g->name, (unsigned long long)g->memory_total_mib,
		       (unsigned long long)g->memory_used_mib, g->compute_cap, g->driver,
		       f->cuda_version ? f->cuda_version : "?");
	}
	if (!f->n_npus) {
		printf("%-10s none\n", "npus");
	}
	for (i = 0; i < f->n_npus; i++) {
		printf("%-10s %u: %s (%s)\n", i ? "" : "npus", f->npus[i].index, f->npus[i].name,
		       f->npus[i].health);
	}
	printf("%-10s", "engines");
	for (i = 0; i < f->n_engines; i++) {
		printf("%s %s %s", i ? "," : "", f->engines[i].name, f->engines[i].version);
	}
	printf("%s\n", f->n_engines ? "" : " none");
	for (i = 0; i < f->n_pythons; i++) {
		printf("%-10s %s %s\n", i ? "" : "pythons", f->pythons[i].path,
		       f->pythons[i].version);
	}
	if (!f->n_pythons) {
		printf("%-10s none\n", "pythons");
	}
}

static int do_check(const struct cmd *self, const char *host)
{
	struct moo_connect_opts o = MOO_CONNECT_OPTS_INIT;
	struct moo_host_facts *f = NULL;
	struct moo_store *st = NULL;
	struct moo_error *err = NULL;
	int r;

	(void)self;
	o.accept_new_host_key = accept_new;
	o.timeout_s = (int)timeout_s;
	if ((r = open_store(&st)) >= 0) {
		return r;
	}
	r = moo_host_probe(&f, st, host, root, &o, &err);
	moo_store_close(st);
	if (r) {
		return fail(err);
	}
	if (json) {
		struct moo_buf b = MOO_BUF_INIT;
		json_t *j;

		moo_host_facts_to_json(&b, f);
		j = json_loads(b.ptr, 0, NULL);
		if (j) {
			json_object_set_new(j, "name", json_string(host));
			print_json(j);
		}
		moo_buf_dispose(&b);
	} else {
		print_facts(f);
	}
	moo_host_facts_free(f);
	return EXIT_OK;
}

/* Which options each subcommand takes: any other one given is a usage error. */
static int only(const struct cmd *self, const char *sub, const char *allowed)
{
	const struct opt *o;
	char want[32];

	for (o = opts; o->long_name; o++) {
		bool given = o->type == OPT_FLAG ? *(bool *)o->ptr
			     : o->type == OPT_INT
				     ? (o->ptr == &port ? port != -1 : *(long *)o->ptr != 0)
				     : *(const char **)o->ptr != NULL;

		snprintf(want, sizeof(want), " %s ", o->long_name);
		if (given && !strstr(allowed, want)) {
			return usage_error(self, NULL, "'moo hosts %s' takes no '--%s'", sub,
					   o->long_name);
		}
	}
	return -1;
}

/* The subcommands: the argument each needs, the options each takes. */
static const struct sub {
	const char *name;
	const char *arg;     /* "NAME", "HOST", or NULL: none */
	const char *options; /* " json force ": any other one given is a usage error */
	int (*run)(const struct cmd *self, const char *arg);
} subs[] = {
	{"add", "NAME", " address user port key known-hosts root runtime ", do_add},
	{"ls", NULL, " json ", do_ls},
	{"rm", "NAME", " force ", do_rm},
	{"trust", "HOST", " timeout ", do_trust},
	{"check", "HOST", " json accept-new-host-key timeout root ", do_check},
};
#define N_SUBS (sizeof(subs) / sizeof(subs[0]))

static int run(const struct cmd *self, int argc, char **argv)
{
	const char *names[N_SUBS], *near;
	const struct sub *s = NULL;
	char hint[64];
	int npos, r;
	size_t i;

	r = opt_parse(self, opts, argc, argv, &npos, 1, 2);
	if (r >= 0) {
		return r;
	}
	for (i = 0; i < N_SUBS; i++) {
		names[i] = subs[i].name;
		s = !s && !strcmp(argv[0], subs[i].name) ? &subs[i] : s;
	}
	if (!s) {
		near = moo__suggest(argv[0], names, N_SUBS);
		if (near) {
			snprintf(hint, sizeof(hint), "did you mean 'moo hosts %s'?", near);
		}
		return usage_error(self, near ? hint : "use add, ls, rm, trust or check",
				   "unknown subcommand '%s'", argv[0]);
	}
	if (!s->arg && npos > 1) {
		return usage_error(self, NULL, "unexpected argument '%s'", argv[1]);
	}
	if (s->arg && npos < 2) {
		return usage_error(self, NULL, "'moo hosts %s' needs a %s", s->name, s->arg);
	}
	if ((r = only(self, s->name, s->options)) >= 0) {
		return r;
	}
	return s->run(self, s->arg ? argv[1] : NULL);
}

const struct cmd cmd_hosts = {
	.name = "hosts",
	.summary = "list, add, remove, trust and check the hosts moo runs on",
	.args = "add NAME | ls | rm NAME | trust HOST | check HOST",
	.run = run,
};
