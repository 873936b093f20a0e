/*
 * slurm: submit a job's supervisor with sbatch and read its state from sacct, squeue or
 * scontrol, every command one sh line over the login node's transport (slurm.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "slurm.h"

#define QUERY_TTL_S 0.5 /* answers of one query serve every job asked for within this */

bool moo__slurm_host(const char *host)
{
	return host && !strncmp(host, "slurm:", 6);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- sbatch ----------------------------------------------------------------------------- */

static void add_opt(struct moo_buf *out, const char *name, const char *value)
{
	if (value && *value) {
		moo_buf_printf(out, " --%s=", name);
		moo_buf_shquote(out, value);
	}
}

int moo__slurm_args(struct moo_buf *out, const struct moo_slurm_opts *opts,
		    const struct moo_spec *spec, struct moo_error **err)
{
	static const char *const keys[] = MOO_CONFIG_SLURM_KEYS;
	struct moo_config *cfg = NULL;
	const char *given[6] = {NULL};
	char gres[32] = "";
	size_t i;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_SLURM_OPTS_VERSION, "moo_slurm_opts", err)) ||
	    (r = moo_config_load(&cfg, NULL, err))) {
		return r;
	}
	if (opts) {
		given[0] = opts->partition;
		given[1] = opts->time;
		given[2] = opts->gres;
		given[3] = opts->account;
		given[4] = opts->qos;
		given[5] = opts->constraint;
	}
	if (spec && spec->resources.accelerator == MOO_ACCEL_GPU && spec->resources.count) {
		snprintf(gres, sizeof(gres), "gpu:%u", spec->resources.count);
	}
	for (i = 0; i < MOO_ARRAY_SIZE(keys); i++) {
		const char *v = given[i] ? given[i] : cfg->slurm[i];

		add_opt(out, keys[i], v ? v : (i == 2 && *gres ? gres : NULL));
	}
	if (spec && spec->resources.cpus > 0) {
		moo_buf_printf(out, " --cpus-per-task=%u",
			       (unsigned)(spec->resources.cpus + 0.999));
	}
	if (spec && spec->resources.memory) {
		moo_buf_printf(out, " --mem=%lluK",
			       (unsigned long long)((spec->resources.memory + 1023) / 1024));
	}
	moo_config_free(cfg);
	return 0;
}

int moo__slurm_submit(struct moo__transport *t, const char *script, const char *args,
		      const char *extra, char **id, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	int r, status = 0;
	size_t n;

	moo_buf_puts(&cmd, "sbatch --parsable");
	moo_buf_puts(&cmd, args ? args : "");
	moo_buf_puts(&cmd, extra ? extra : "");
	moo_buf_putc(&cmd, ' ');
	moo_buf_shquote(&cmd, script);
	r = t->ops->exec(t, cmd.ptr, &out, &errout, &status, err);
	if (r) {
		goto done;
	}
	n = out.ptr ? strspn(out.ptr, "0123456789") : 0;
	if (status || !n) {
		struct moo_error *e =
			moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
				       "sbatch on '%s' refused the job (exit %d)", t->host, status);

		while (errout.len && errout.ptr[errout.len - 1] == '\n') {
			errout.ptr[--errout.len] = '\0';
		}
		moo__error_cause(e, errout.len ? errout.ptr : "no job id in its answer");
		moo__error_hint(e,
				"check the partition, time and gres asked for: sinfo on '%s' "
				"lists what the cluster has",
				t->host);
		r = MOO_EIO;
		goto done;
	}
	*id = moo__strndup(out.ptr, n);
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&errout);
	return r;
}

int moo__slurm_cancel(struct moo__transport *t, const char *id, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	int r, status = 0;

	moo_buf_puts(&cmd, "scancel ");
	moo_buf_shquote(&cmd, id);
	r = t->ops->exec(t, cmd.ptr, NULL, &errout, &status, err);
	if (!r && status) {
		struct moo_error *e =
			moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
				       "scancel %s on '%s' failed (exit %d)", id, t->host, status);

		moo__error_cause(e, errout.ptr ? errout.ptr : "");
		r = MOO_EIO;
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&errout);
	return r;
}

int moo__slurm_max_array(struct moo__transport *t, long *out, struct moo_error **err)
{
	struct moo_buf o = MOO_BUF_INIT;
	const char *p;
	int r, status = 0;

	*out = 1001; /* Slurm's default */
	r = t->ops->exec(t, "scontrol show config", &o, NULL, &status, err);
	if (!r && status) {
		r = moo__fail(err, MOO_EHOST, "scontrol show config on '%s' failed (exit %d)",
			      t->host, status);
	}
	if (!r && o.ptr && (p = strstr(o.ptr, "MaxArraySize"))) {
		p = strchr(p, '=');
		if (p && strtol(p + 1, NULL, 10) > 0) {
			*out = strtol(p + 1, NULL, 10);
		}
	}
	moo_buf_dispose(&o);
	return r;
}

bool moo__slurm_state_done(const char *s)
{
	static const char *const live[] = {
		"PENDING",     "RUNNING",      "CONFIGURING",   "COMPLETING",  "REQUEUED",
		"REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",      "SUSPENDED",   "STOPPED",
		"SIGNALING",   "STAGE_OUT",    "RESV_DEL_HOLD", "SPECIAL_EXIT"};
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(live); i++) {
		if (!strcmp(s, live[i])) {
			return false;
		}
	}
	return *s != '\0';
}

/* ---- state: one query per poll for all of a login node's jobs ---------------------------- */

struct entry {
	char *id;
	struct moo__slurm_info info;
};

struct answer {
	char *login;
	double at;   /* when the query ran; 0: never */
	char **want; /* ids (array ids without the task) the next sacct asks for */
	size_t n_want;
	bool by_id;     /* the answer covers only the ids asked for (sacct -j) */
	size_t n_asked; /* of want, those the last query asked for */
	struct entry *v;
	size_t n;
};

static struct answer *answers;
static size_t n_answers;

static struct answer *answer_for(const char *login)
{
	size_t i;

	for (i = 0; i < n_answers; i++) {
		if (!strcmp(answers[i].login, login)) {
			return &answers[i];
		}
	}
	MOO_GROW(answers, n_answers);
	memset(&answers[n_answers], 0, sizeof(answers[0]));
	answers[n_answers].login = moo__strdup(login);
	return &answers[n_answers++];
}

void moo__slurm_want(const char *login, const char *id)
{
	struct answer *a = answer_for(login);
	size_t len = strcspn(id, "_"), i;

	for (i = 0; i < a->n_want; i++) {
		if (strlen(a->want[i]) == len && !strncmp(a->want[i], id, len)) {
			return;
		}
	}
	MOO_GROW(a->want, a->n_want);
	a->want[a->n_want++] = moo__strndup(id, len);
}

static const struct entry *find(const struct answer *a, const char *id);

static void put(struct answer *a, const char *id, const struct moo__slurm_info *info)
{
	if (find(a, id)) {
		return; /* the controller's word came first */
	}
	MOO_GROW(a->v, a->n);
	a->v[a->n].id = moo__strdup(id);
	a->v[a->n++].info = *info;
}

/* Records id, or each task of an array id's pending range ("12_[3-5,7%2]"). */
static void put_id(struct answer *a, const char *id, const struct moo__slurm_info *info)
{
	const char *br = strstr(id, "_[");
	const char *p;
	size_t base;

	if (!br) {
		put(a, id, info);
		return;
	}
	base = (size_t)(br - id);
	for (p = br + 2; *p && *p != ']' && *p != '%';) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo, k;

		if (end == p) {
			break;
		}
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			p = end;
		}
		for (k = lo; k <= hi && hi - lo < 1000000; k++) {
			char *one = moo__printf("%.*s_%ld", (int)base, id, k);

			put(a, one, info);
			free(one);
		}
		if (*p == ',') {
			p++;
		}
	}
}

static void set_word(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void parse_exit(struct moo__slurm_info *info, const char *s)
{
	char *end;

	info->exit_code = -1;
	info->signal = 0;
	if (s && *s >= '0' && *s <= '9') {
		info->exit_code = (int)strtol(s, &end, 10);
		if (*end == ':') {
			info->signal = (int)strtol(end + 1, NULL, 10);
		}
	}
}

/* Slurm's time "2026-12-04T18:37:48" (the login node's local time) as epoch seconds, or 0
 * ("Unknown", "N/A", "None"). */
static double parse_time(const char *s, size_t n)
{
	char buf[32];
	struct tm tm;
	int len = 0;

	if (n >= sizeof(buf) || n != 19) {
		return 0;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &len) != 6 ||
	    len != 19) {
		return 0;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	return (double)mktime(&tm);
}

/*
 * "ID|STATE|EXIT|REASON|START" (sacct) or "ID|STATE|REASON|RESTARTS|START|" (squeue -O)
 * lines; sacct knows no restart count.
 */
static void parse_lines(struct answer *a, char *text, bool sacct)
{
	char *save = NULL, *line;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[6] = {NULL};
		struct moo__slurm_info info;
		size_t k = 0;
		char *p = line;

		memset(&info, 0, sizeof(info));
		while (k < 6) {
			f[k++] = p;
			p = strchr(p, '|');
			if (!p) {
				break;
			}
			*p++ = '\0';
		}
		if (k < 5 || !*f[0] || strchr(f[0], '.')) {
			continue; /* a step (ID.batch), or not a line of ours */
		}
		set_word(info.state, sizeof(info.state), f[1], strcspn(f[1], " +"));
		info.exit_code = -1;
		info.restarts = -1;
		if (sacct) {
			parse_exit(&info, f[2]);
			set_word(info.reason, sizeof(info.reason), f[3], strlen(f[3]));
		} else {
			set_word(info.reason, sizeof(info.reason), f[2], strlen(f[2]));
			if (*f[3] >= '0' && *f[3] <= '9') {
				info.restarts = (int)strtol(f[3], NULL, 10);
			}
		}
		info.start = parse_time(f[4], strlen(f[4]));
		put_id(a, f[0], &info);
	}
}

/* The value of KEY= in a 'scontrol show job -o' line, or NULL (points into line). */
static const char *sc_field(const char *line, const char *key, size_t *len)
{
	size_t n = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[n] == '=') {
			*len = strcspn(p + n + 1, " \n");
			return p + n + 1;
		}
		p += n;
	}
	return NULL;
}

static void parse_scontrol(struct answer *a, const char *text)
{
	const char *line = text;

	while (line && *line) {
		const char *eol = strchr(line, '\n'), *v, *aj, *at;
		size_t n, naj = 0, nat = 0;
		struct moo__slurm_info info;
		char *one = NULL,
		     *l = moo__strndup(line, eol ? (size_t)(eol - line) : strlen(line));

		memset(&info, 0, sizeof(info));
		info.exit_code = -1;
		info.restarts = -1;
		if ((v = sc_field(l, "Restarts", &n))) {
			info.restarts = (int)strtol(v, NULL, 10);
		}
		if ((v = sc_field(l, "StartTime", &n))) {
			info.start = parse_time(v, n);
		}
		if ((v = sc_field(l, "JobState", &n))) {
			set_word(info.state, sizeof(info.state), v, n);
		}
		if ((v = sc_field(l, "Reason", &n))) {
			set_word(info.reason, sizeof(info.reason), v, n);
		}
		if ((v = sc_field(l, "ExitCode", &n))) {
			char *x = moo__strndup(v, n);

			parse_exit(&info, x);
			free(x);
		}
		aj = sc_field(l, "ArrayJobId", &naj);
		at = sc_field(l, "ArrayTaskId", &nat);
		if (aj && at) {
			one = moo__printf("%.*s_%s%.*s%s", (int)naj, aj, strchr(at, '-') ? "[" : "",
					  (int)nat, at, strchr(at, '-') ? "]" : "");
		} else if ((v = sc_field(l, "JobId", &n))) {
			one = moo__strndup(v, n);
		}
		if (one && *info.state) {
			put_id(a, one, &info);
		}
		free(one);
		free(l);
		line = eol ? eol + 1 : NULL;
	}
}

static void clear(struct answer *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].id);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/*
 * One query, one command line: squeue for every job the controller holds (live, and ended
 * ones for MinJobAge), then, only when some id wanted is not among them, sacct where
 * accounting runs for those the controller has forgotten; scontrol show job when squeue cannot be
 * run. Each answer starts with a line naming its source, so a failed command is never read as an
 * empty answer; when the controller does not answer, the query fails.
 */
static int query(struct moo__transport *t, struct answer *a, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	char *sec, *next;
	size_t i;
	int r, status = 0;

	/* sacct only for the ids squeue did not list (ended before MinJobAge): where squeue
	 * knows them all, as while a sweep runs, a poll runs one program, not two */
	moo_buf_puts(&cmd,
		     "if o=$(squeue --states=all -h "
		     "-O 'JobArrayID:|,State:|,Reason:|,RestartCnt:|,StartTime:|' 2>&1); then "
		     "echo '#squeue'; printf '%s\\n' \"$o\"; m=; for i in");
	for (i = 0; i < a->n_want; i++) {
		moo_buf_putc(&cmd, ' ');
		moo_buf_shquote(&cmd, a->want[i]);
	}
	moo_buf_puts(&cmd, "; do case \"\n$o\" in *\"\n$i|\"* | *\"\n${i}_\"*) ;; *) m=$m,$i ;; "
			   "esac; done; if [ -n \"$m\" ] && o=$(sacct -n -P -X -o "
			   "JobID,State,ExitCode,Reason,Start -j \"${m#,}\" 2>/dev/null); then "
			   "echo '#sacct'; printf '%s\\n' \"$o\"; fi; "
			   "elif o=$(scontrol show job -o 2>&1); then echo '#scontrol'; "
			   "printf '%s\\n' \"$o\"; else printf '%s\\n' \"$o\" >&2; exit 3; fi");
	r = t->ops->exec(t, cmd.ptr, &out, &errout, &status, err);
	if (!r && (status || !out.ptr || out.ptr[0] != '#')) {
		struct moo_error *e =
			moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				       "cannot ask Slurm on '%s' how its jobs are", t->host);

		moo__error_cause(e, errout.ptr ? errout.ptr : "no answer");
		moo__error_hint(e, "the jobs are left as last seen; check slurmctld there "
				   "(scontrol ping)");
		r = MOO_EHOST;
	}
	if (r) {
		goto done;
	}
	clear(a);
	/* sections in order: what squeue or scontrol says comes first and rules */
	for (sec = out.ptr; sec && *sec == '#'; sec = next) {
		char *body = strchr(sec, '\n'), kind = sec[1];

		if (!body) {
			break;
		}
		*body++ = '\0';
		if (*body == '#') {
			next = body; /* an empty section */
			body = "";
		} else {
			for (next = body; (next = strchr(next, '\n')) && next[1] != '#';) {
				next++;
			}
			if (next) {
				*next++ = '\0';
			}
		}
		if (kind == 's' && !strcmp(sec, "#scontrol")) {
			parse_scontrol(a, body);
		} else {
			parse_lines(a, body, !strcmp(sec, "#sacct"));
		}
	}
	a->by_id = false;
	a->at = now();
	a->n_asked = a->n_want;
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&errout);
	return r;
}

static const struct entry *find(const struct answer *a, const char *id)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (!strcmp(a->v[i].id, id)) {
			return &a->v[i];
		}
	}
	return NULL;
}

void moo__slurm_forget(const char *login)
{
	answer_for(login)->at = 0;
}

int moo__slurm_state(struct moo__transport *t, const char *id, struct moo__slurm_info *out,
		     bool *known, struct moo_error **err)
{
	struct answer *a;
	const struct entry *e;
	size_t len = strcspn(id, "_"), i;
	bool asked = false;
	int r;

	moo__slurm_want(t->host, id);
	a = answer_for(t->host);
	for (i = 0; i < a->n_asked; i++) {
		asked |= strlen(a->want[i]) == len && !strncmp(a->want[i], id, len);
	}
	e = find(a, id);
	if (a->at <= 0 || now() - a->at > QUERY_TTL_S || (!e && a->by_id && !asked)) {
		if ((r = query(t, a, err))) {
			return r;
		}
		e = find(a, id);
	}
	*known = e != NULL;
	if (e) {
		*out = e->info;
	}
	return 0;
}
