/*
 * store: every job, its metrics and cached runtime probes, in one SQLite database.
 *
 * WAL mode lets readers run beside one writer; every write is a BEGIN IMMEDIATE
 * transaction and the busy timeout makes concurrent moo processes wait their turn
 * rather than fail, so no record is lost. Hosts keep what 'moo hosts check' last saw. The schema is
 * versioned by PRAGMA user_version: migrations[i] takes the store from version i to i + 1, inside
 * one transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include "internal.h"

struct moo_store {
	sqlite3 *db;
	char *path;
	int wal_frames; /* in the WAL after this connection's last commit */
};

static const char *const migrations[] = {
	/* 0 → 1 */
	"CREATE TABLE jobs ("
	" id TEXT PRIMARY KEY,"
	" name TEXT,"
	" source TEXT NOT NULL,"
	" source_sha256 TEXT,"
	" spec TEXT,"
	" params TEXT,"
	" host TEXT NOT NULL,"
	" dir TEXT NOT NULL,"
	" output_folder TEXT,"
	" command TEXT,"
	" status TEXT NOT NULL,"
	" created REAL NOT NULL,"
	" started REAL,"
	" ended REAL,"
	" exit_code INTEGER,"
	" signal INTEGER,"
	" pid INTEGER,"
	" result_path TEXT);"
	"CREATE INDEX jobs_name ON jobs(name);"
	"CREATE INDEX jobs_created ON jobs(created);"
	"CREATE TABLE metrics ("
	" job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	" seq INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" value REAL NOT NULL,"
	" step INTEGER,"
	" from_file INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (job_id, seq));",
	/* 1 → 2 */
	"CREATE TABLE cache ("
	" key TEXT PRIMARY KEY,"
	" value TEXT NOT NULL,"
	" at REAL NOT NULL);",
	/* 2 → 3: bytes of the bundle sent to the job's host for it (0: the host had it) */
	"ALTER TABLE jobs ADD COLUMN bytes_sent INTEGER NOT NULL DEFAULT 0;",
	/* 3 → 4: what 'moo hosts check' last saw of each host */
	"CREATE TABLE hosts ("
	" name TEXT PRIMARY KEY,"
	" facts TEXT NOT NULL,"
	" fingerprint TEXT,"
	" checked REAL NOT NULL);",
	/* 4 → 5: the moo.lock a job was started with (JSON text), for moo reproduce */
	"ALTER TABLE jobs ADD COLUMN lock TEXT;",
	/* 5 → 6: what moo publish pushed (moo models) */
	"CREATE TABLE publications ("
	" job_id TEXT NOT NULL,"
	" repo TEXT NOT NULL,"
	" branch TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" commit_id TEXT NOT NULL,"
	" tag TEXT NOT NULL,"
	" alias TEXT,"
	" published REAL NOT NULL);",
	/* 6 → 7: Slurm jobs and sweeps; indexes so that a store of 100,000 jobs is read by
	 * what is asked, not scanned (ps: live jobs by status; a sweep's points) */
	"ALTER TABLE jobs ADD COLUMN backend_id TEXT;"
	"ALTER TABLE jobs ADD COLUMN detail TEXT;"
	"ALTER TABLE jobs ADD COLUMN sweep TEXT;"
	"ALTER TABLE jobs ADD COLUMN sweep_index INTEGER;"
	"CREATE INDEX jobs_status ON jobs(status, created);"
	"CREATE INDEX jobs_sweep ON jobs(sweep, sweep_index) WHERE sweep IS NOT NULL;"
	"CREATE TABLE sweeps ("
	" id TEXT PRIMARY KEY,"
	" source TEXT NOT NULL,"
	" points TEXT NOT NULL," /* JSON: [["training_params.lr=0.1", …], …] */
	" opts TEXT NOT NULL,"   /* JSON: hosts, slurm options, limits */
	" status TEXT NOT NULL," /* running, done, cancelled */
	" created REAL NOT NULL);",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int db_fail(struct moo_store *st, struct moo_error **err, const char *what)
{
	struct moo_error *e;

	e = moo__error_add(err, MOO_ESTORE, MOO_SEV_ERROR, "cannot %s in the job store '%s'", what,
			   st->path);
	moo__error_cause(e, sqlite3_errmsg(st->db));
	switch (sqlite3_errcode(st->db)) {
	case SQLITE_FULL:
		moo__error_hint(
			e, "free space on the disk that holds it, or point MOO_HOME elsewhere");
		break;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		moo__error_hint(e, "make it writable, or point MOO_HOME elsewhere");
		break;
	}
	return MOO_ESTORE;
}

static int exec_sql(struct moo_store *st, const char *sql, const char *what, struct moo_error **err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		return db_fail(st, err, what);
	}
	return 0;
}

int moo__store_default_path(struct moo_buf *out, struct moo_error **err)
{
	const char *home = getenv("MOO_HOME"), *xdg = getenv("XDG_DATA_HOME");
	const char *user = getenv("HOME");

	if (home && *home) {
		moo_buf_printf(out, "%s/moo.db", home);
	} else if (xdg && *xdg) {
		moo_buf_printf(out, "%s/moo/moo.db", xdg);
	} else if (user && *user) {
		moo_buf_printf(out, "%s/.local/share/moo/moo.db", user);
	} else {
		return moo__fail(err, MOO_ESTORE, "cannot place the job store: HOME is not set");
	}
	return 0;
}

static int migrate(struct moo_store *st, struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int version = 0, r;
	size_t i;

	r = exec_sql(st, "BEGIN IMMEDIATE", "lock", err);
	if (r) {
		return r;
	}
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		r = db_fail(st, err, "read the schema version");
		goto done;
	}
	version = sqlite3_column_int(q, 0);
	if (version > (int)MOO_ARRAY_SIZE(migrations)) {
		struct moo_error *e;

		e = moo__error_add(err, MOO_ESTORE, MOO_SEV_ERROR,
				   "the job store '%s' has schema version %d, newer than this moo "
				   "knows (%zu)",
				   st->path, version, MOO_ARRAY_SIZE(migrations));
		moo__error_hint(e, "use a newer moo, or point MOO_HOME elsewhere");
		r = MOO_ESTORE;
		goto done;
	}
	for (i = (size_t)version; i < MOO_ARRAY_SIZE(migrations); i++) {
		char pragma[64];

		r = exec_sql(st, migrations[i], "migrate the schema", err);
		if (r) {
			goto done;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
		r = exec_sql(st, pragma, "migrate the schema", err);
		if (r) {
			goto done;
		}
	}
	r = exec_sql(st, "COMMIT", "migrate the schema", err);
done:
	sqlite3_finalize(q);
	if (r) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}

/*
 * Every moo command is a new process, whose first statement rebuilds SQLite's index of
 * the WAL by reading all of it: ~5 us a frame, and a 'moo run' adds ~16 frames. So the
 * WAL is folded into the database when moo has time to spare (moo_store_idle), not only
 * at SQLite's usual 1000 frames, which this hook still does for commands that never wait.
 */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct moo_store *st = arg;

	st->wal_frames = frames;
	if (frames >= 1000) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	return SQLITE_OK;
}

void moo_store_idle(struct moo_store *st)
{
	int frames = -1, done = -2;

	if (!st || st->wal_frames <= 0) {
		return;
	}
	sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &done);
	st->wal_frames = 0;
	/* All folded in: the next commit starts the WAL afresh, which syncs its header. Make
	 * that commit now, a write of nothing new, rather than in the next command's path. */
	if (frames >= 0 && frames == done) {
		char pragma[40];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
			 moo_store_schema_version(st));
		sqlite3_exec(st->db, pragma, NULL, NULL, NULL);
	}
}

int moo_store_open(struct moo_store **out, const char *path, struct moo_error **err)
{
	struct moo_store *st = moo__calloc(1, sizeof(*st));
	struct moo_buf p = MOO_BUF_INIT;
	char *dir = NULL, *slash;
	int r;

	if (path) {
		moo_buf_puts(&p, path);
	} else {
		r = moo__store_default_path(&p, err);
		if (r) {
			goto done;
		}
	}
	st->path = moo_buf_detach(&p);
	dir = moo__strdup(st->path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = moo__mkdir_p(dir, 0700, err);
		if (r) {
			goto done;
		}
	}
	if (sqlite3_open_v2(st->path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		r = db_fail(st, err, "open the database");
		goto done;
	}
	sqlite3_busy_timeout(st->db, 30000);
	/*
	 * Every moo command opens the store, does a write or two and exits. By default the
	 * last connection to close checkpoints the WAL into the database and deletes it, and
	 * the next open creates it again: four fsyncs (~7 ms each on a VM disk) a command.
	 * Keep the WAL file and fold it in when there is time (wal_hook, moo_store_idle)
	 * instead. With synchronous=NORMAL a commit then syncs nothing; the database stays
	 * consistent across a crash, and a power cut can lose only the last commits.
	 */
	{
		int persist = 1;

		sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	sqlite3_wal_hook(st->db, wal_hook, st);
	/*
	 * Switching a new database to WAL takes a lock that SQLite does not wait for (no busy
	 * handler): commands opening a fresh store at once got "database is locked". Wait for
	 * it here, 10 ms at a time, as long as the busy timeout would.
	 */
	{
		const struct timespec tick = {0, 10 * 1000 * 1000};
		int k;

		for (k = 0; k < 3000; k++) {
			int rc =
				sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);

			if ((rc & 0xff) != SQLITE_BUSY) {
				break;
			}
			nanosleep(&tick, NULL);
		}
	}
	r = exec_sql(st, "PRAGMA journal_mode = WAL", "switch to WAL", err);
	if (!r) {
		r = exec_sql(st, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
			     "configure", err);
	}
	if (!r) {
		r = migrate(st, err);
	}
	if (r) {
		goto done;
	}
	*out = st;
	st = NULL;
done:
	free(dir);
	moo_buf_dispose(&p);
	moo_store_close(st);
	return r;
}

void moo_store_close(struct moo_store *st)
{
	if (!st) {
		return;
	}
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int moo_store_schema_version(struct moo_store *st)
{
	sqlite3_stmt *q = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		v = sqlite3_column_int(q, 0);
	}
	sqlite3_finalize(q);
	return v;
}

/* ---- jobs ------------------------------------------------------------------------ */

static void bind_text(sqlite3_stmt *q, int i, const char *s)
{
	if (s) {
		sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_null(q, i);
	}
}

static void bind_time(sqlite3_stmt *q, int i, double t)
{
	if (t > 0) {
		sqlite3_bind_double(q, i, t);
	} else {
		sqlite3_bind_null(q, i);
	}
}

#define JOB_COLUMNS                                                                                \
	"id, name, source, source_sha256, spec, params, host, dir, output_folder, command, "       \
	"status, created, started, ended, exit_code, signal, pid, result_path, bytes_sent, lock, " \
	"backend_id, detail, sweep, sweep_index"

/* Binds the job's fields to ?1..?24 in JOB_COLUMNS order. */
static void bind_job(sqlite3_stmt *q, const struct moo_job *j)
{
	bind_text(q, 1, j->id);
	bind_text(q, 2, j->name);
	bind_text(q, 3, j->source ? j->source : "");
	bind_text(q, 4, j->source_sha256);
	bind_text(q, 5, j->spec_json);
	bind_text(q, 6, j->params_json);
	bind_text(q, 7, j->host ? j->host : "local");
	bind_text(q, 8, j->dir ? j->dir : "");
	bind_text(q, 9, j->output_folder);
	bind_text(q, 10, j->command);
	bind_text(q, 11, moo_job_status_name(j->status));
	sqlite3_bind_double(q, 12, j->created > 0 ? j->created : now());
	bind_time(q, 13, j->started);
	bind_time(q, 14, j->ended);
	if (j->exit_code >= 0) {
		sqlite3_bind_int(q, 15, j->exit_code);
	} else {
		sqlite3_bind_null(q, 15);
	}
	sqlite3_bind_int(q, 16, j->signal);
	sqlite3_bind_int64(q, 17, j->pid);
	bind_text(q, 18, j->result_path);
	sqlite3_bind_int64(q, 19, (sqlite3_int64)j->bytes_sent);
	bind_text(q, 20, j->lock);
	bind_text(q, 21, j->backend_id);
	bind_text(q, 22, j->detail);
	bind_text(q, 23, j->sweep);
	if (j->sweep && j->sweep_index >= 0) {
		sqlite3_bind_int(q, 24, j->sweep_index);
	} else {
		sqlite3_bind_null(q, 24);
	}
}

static int write_metrics(struct moo_store *st, const struct moo_job *j, struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	size_t i;
	int r = 0;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM metrics WHERE job_id = ?1", -1, &q, NULL) !=
	    SQLITE_OK) {
		return db_fail(st, err, "write metrics");
	}
	bind_text(q, 1, j->id);
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_fail(st, err, "write metrics");
	}
	sqlite3_finalize(q);
	q = NULL;
	if (r || !j->n_metrics) {
		return r;
	}
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO metrics (job_id, seq, name, value, step, from_file) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "write metrics");
	}
	for (i = 0; i < j->n_metrics && !r; i++) {
		const struct moo_metric *m = &j->metrics[i];

		sqlite3_reset(q);
		bind_text(q, 1, j->id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)i);
		bind_text(q, 3, m->name);
		sqlite3_bind_double(q, 4, m->value);
		if (m->step >= 0) {
			sqlite3_bind_int64(q, 5, m->step);
		} else {
			sqlite3_bind_null(q, 5);
		}
		sqlite3_bind_int(q, 6, m->from_file);
		if (sqlite3_step(q) != SQLITE_DONE) {
			r = db_fail(st, err, "write metrics");
		}
	}
	sqlite3_finalize(q);
	return r;
}

static int write_job(struct moo_store *st, const struct moo_job *j, bool add,
		     struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	const char *sql =
		add ? "INSERT INTO jobs (" JOB_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, "
		      "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
		      "?21, ?22, ?23, ?24)"
		    : "UPDATE jobs SET name = ?2, source = ?3, source_sha256 = ?4, "
		      "spec = ?5, params = ?6, host = ?7, dir = ?8, output_folder = ?9, "
		      "command = ?10, status = ?11, created = ?12, started = ?13, "
		      "ended = ?14, exit_code = ?15, signal = ?16, pid = ?17, "
		      "result_path = ?18, bytes_sent = ?19, lock = ?20, backend_id = ?21, "
		      "detail = ?22, sweep = ?23, sweep_index = ?24 WHERE id = ?1";
	int r, rc;

	if (!j->id) {
		return moo__fail(err, MOO_EARG, "a job needs an id");
	}
	r = exec_sql(st, "BEGIN IMMEDIATE", "lock", err);
	if (r) {
		return r;
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
		r = db_fail(st, err, "write a job");
		goto done;
	}
	bind_job(q, j);
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT) {
		r = moo__fail(err, MOO_EEXIST, "job '%s' exists already", j->id);
		goto done;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(st, err, "write a job");
		goto done;
	}
	if (!add && sqlite3_changes(st->db) == 0) {
		r = moo__fail(err, MOO_ENOTFOUND, "no job '%s' in the store", j->id);
		goto done;
	}
	r = write_metrics(st, j, err);
	if (r) {
		goto done;
	}
	r = exec_sql(st, "COMMIT", "write a job", err);
done:
	sqlite3_finalize(q);
	if (r) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}

int moo_store_add_job(struct moo_store *st, const struct moo_job *job, struct moo_error **err)
{
	return write_job(st, job, true, err);
}

int moo_store_update_job(struct moo_store *st, const struct moo_job *job, struct moo_error **err)
{
	return write_job(st, job, false, err);
}

static char *col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *s = sqlite3_column_text(q, i);

	return s ? moo__strdup((const char *)s) : NULL;
}

static int read_metrics(struct moo_store *st, struct moo_job *j, struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT name, value, step, from_file FROM metrics WHERE job_id = ?1 "
			       "ORDER BY seq",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "read metrics");
	}
	bind_text(q, 1, j->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct moo_metric *m;

		MOO_GROW(j->metrics, j->n_metrics);
		m = &j->metrics[j->n_metrics++];
		m->name = col_text(q, 0);
		m->value = sqlite3_column_double(q, 1);
		m->step =
			sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 2);
		m->from_file = sqlite3_column_int(q, 3) != 0;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_fail(st, err, "read metrics");
}

static struct moo_job *row_job(sqlite3_stmt *q)
{
	struct moo_job *j = moo__calloc(1, sizeof(*j));
	char *status;
	int s;

	j->id = col_text(q, 0);
	j->name = col_text(q, 1);
	j->source = col_text(q, 2);
	j->source_sha256 = col_text(q, 3);
	j->spec_json = col_text(q, 4);
	j->params_json = col_text(q, 5);
	j->host = col_text(q, 6);
	j->dir = col_text(q, 7);
	j->output_folder = col_text(q, 8);
	j->command = col_text(q, 9);
	status = col_text(q, 10);
	s = status ? moo_job_status_parse(status) : -1;
	j->status = s < 0 ? MOO_JOB_LOST : (enum moo_job_status)s;
	free(status);
	j->created = sqlite3_column_double(q, 11);
	j->started = sqlite3_column_double(q, 12);
	j->ended = sqlite3_column_double(q, 13);
	j->exit_code = sqlite3_column_type(q, 14) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 14);
	j->signal = sqlite3_column_int(q, 15);
	j->pid = (long)sqlite3_column_int64(q, 16);
	j->result_path = col_text(q, 17);
	j->bytes_sent = (uint64_t)sqlite3_column_int64(q, 18);
	j->lock = col_text(q, 19);
	j->backend_id = col_text(q, 20);
	j->detail = col_text(q, 21);
	j->sweep = col_text(q, 22);
	j->sweep_index = sqlite3_column_type(q, 23) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 23);
	return j;
}

static int query_jobs(struct moo_store *st, sqlite3_stmt *q, struct moo_job ***out, size_t *n,
		      struct moo_error **err)
{
	struct moo_job **jobs = NULL;
	size_t count = 0, i;
	int rc, r = 0;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		MOO_GROW(jobs, count);
		jobs[count++] = row_job(q);
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(st, err, "read jobs");
	}
	for (i = 0; i < count && !r; i++) {
		r = read_metrics(st, jobs[i], err);
	}
	if (r) {
		moo_jobs_free(jobs, count);
		return r;
	}
	*out = jobs;
	*n = count;
	return 0;
}

static int get_sweep_point(struct moo_store *st, const char *ref, struct moo_job **out,
			   struct moo_error **err);

int moo_store_get_job(struct moo_job **out, struct moo_store *st, const char *ref,
		      struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	struct moo_job **jobs = NULL;
	struct moo_buf like = MOO_BUF_INIT;
	size_t n = 0, i;
	int r;

	if (strchr(ref, ':')) {
		return get_sweep_point(st, ref, out, err);
	}
	/* An exact id, then a prefix of an id ("moo-job-" may be left out), then a name. */
	if (sqlite3_prepare_v2(st->db,
			       "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1 OR (id >= ?2 AND "
			       "id < ?3) OR name = ?1 ORDER BY id = ?1 DESC, created DESC LIMIT 64",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "find a job");
	}
	/* A prefix as a range of the primary key (ids are [a-z0-9-], all below '~'), so a
	 * store of 100,000 jobs is not scanned: id, prefix and name each take an index. */
	moo_buf_puts(&like, strncmp(ref, "moo-job-", 8) ? "moo-job-" : "");
	moo_buf_puts(&like, ref);
	bind_text(q, 1, ref);
	bind_text(q, 2, strlen(ref) >= 3 ? like.ptr : "");
	moo_buf_putc(&like, '~');
	bind_text(q, 3, strlen(ref) >= 3 ? like.ptr : "");
	r = query_jobs(st, q, &jobs, &n, err);
	if (r) {
		goto done;
	}
	if (n == 0) {
		struct moo_error *e;

		e = moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR, "no job '%s'", ref);
		moo__error_hint(e, "'moo ps -a' lists every job");
		r = MOO_ENOTFOUND;
		goto done;
	}
	if (strcmp(jobs[0]->id, ref)) {
		/*
		 * Not an exact id: a name picks its newest job (the list is newest first); a
		 * prefix must be unique; a ref that is both a name and another job's prefix
		 * is said to be, never settled by which is newer.
		 */
		size_t named = n, pfx = n, pfx2 = n;

		for (i = 0; i < n; i++) {
			if (jobs[i]->name && !strcmp(jobs[i]->name, ref)) {
				named = named < n ? named : i;
			} else {
				pfx2 = pfx < n && pfx2 == n ? i : pfx2;
				pfx = pfx < n ? pfx : i;
			}
		}
		if (pfx < n && (named < n || pfx2 < n)) {
			struct moo_error *e;

			if (named < n) {
				e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						   "'%s' is the name of '%s' and the start of '%s'",
						   ref, jobs[named]->id, jobs[pfx]->id);
			} else {
				e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						   "'%s' matches more than one job ('%s', '%s')",
						   ref, jobs[pfx]->id, jobs[pfx2]->id);
			}
			moo__error_hint(e, "give more of the id");
			r = MOO_EARG;
			goto done;
		}
		i = named < n ? named : pfx;
		if (i) {
			struct moo_job *pick = jobs[i];

			jobs[i] = jobs[0];
			jobs[0] = pick;
		}
	}
	*out = jobs[0];
	jobs[0] = NULL;
	r = 0;
done:
	moo_jobs_free(jobs, n);
	moo_buf_dispose(&like);
	sqlite3_finalize(q);
	return r;
}

int moo_store_list_jobs(struct moo_job ***out, size_t *n, struct moo_store *st,
			const struct moo_job_filter *filter, struct moo_error **err)
{
	struct moo_job_filter none = MOO_JOB_FILTER_INIT;
	struct moo_buf sql = MOO_BUF_INIT;
	sqlite3_stmt *q = NULL;
	size_t i, k = 0;
	int r;

	if (!filter) {
		filter = &none;
	}
	if ((r = moo__opts_version(filter->version, MOO_JOB_FILTER_VERSION, "moo_job_filter",
				   err))) {
		return r;
	}
	moo_buf_puts(&sql, "SELECT " JOB_COLUMNS " FROM jobs WHERE 1");
	if (filter->status_mask) {
		moo_buf_puts(&sql, " AND status IN (");
		for (i = 0; i <= MOO_JOB_LOST; i++) {
			if (filter->status_mask & (1u << i)) {
				moo_buf_printf(&sql, "%s'%s'", k++ ? ", " : "",
					       moo_job_status_name((enum moo_job_status)i));
			}
		}
		moo_buf_puts(&sql, ")");
	}
	if (filter->name) {
		moo_buf_puts(&sql, " AND name = ?1");
	}
	if (filter->version >= 3 && filter->host) {
		moo_buf_puts(&sql, " AND host = ?3");
	}
	if (filter->version >= 2 && filter->sweep) {
		moo_buf_puts(&sql, " AND sweep = ?2 ORDER BY sweep_index, created DESC");
	} else {
		moo_buf_puts(&sql, " ORDER BY created DESC, id");
	}
	if (filter->limit) {
		moo_buf_printf(&sql, " LIMIT %zu", filter->limit);
	}
	if (sqlite3_prepare_v2(st->db, sql.ptr, -1, &q, NULL) != SQLITE_OK) {
		r = db_fail(st, err, "list jobs");
		goto done;
	}
	if (filter->name) {
		bind_text(q, 1, filter->name);
	}
	if (filter->version >= 2 && filter->sweep) {
		bind_text(q, 2, filter->sweep);
	}
	if (filter->version >= 3 && filter->host) {
		bind_text(q, 3, filter->host);
	}
	r = query_jobs(st, q, out, n, err);
done:
	sqlite3_finalize(q);
	moo_buf_dispose(&sql);
	return r;
}

int moo__store_sweep_put(struct moo_store *st, const char *id, const char *source,
			 const char *points, const char *opts, const char *status,
			 struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO sweeps (id, source, points, opts, status, created) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET "
			       "status = ?5",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "record a sweep");
	}
	bind_text(q, 1, id);
	bind_text(q, 2, source ? source : "");
	bind_text(q, 3, points ? points : "[]");
	bind_text(q, 4, opts ? opts : "{}");
	bind_text(q, 5, status);
	sqlite3_bind_double(q, 6, now());
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_fail(st, err, "record a sweep");
	}
	sqlite3_finalize(q);
	return r;
}

int moo__store_sweep_get(struct moo_store *st, const char *id, char **source, char **points,
			 char **opts, char **status, struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int r = 0, rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT source, points, opts, status FROM sweeps WHERE id = ?1 OR "
			       "id = 'moo-sweep-' || ?1",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "read a sweep");
	}
	bind_text(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (source) {
			*source = col_text(q, 0);
		}
		if (points) {
			*points = col_text(q, 1);
		}
		if (opts) {
			*opts = col_text(q, 2);
		}
		if (status) {
			*status = col_text(q, 3);
		}
	} else if (rc == SQLITE_DONE) {
		r = MOO_ENOTFOUND;
	} else {
		r = db_fail(st, err, "read a sweep");
	}
	sqlite3_finalize(q);
	return r;
}

/* sql, a DELETE of the rows whose key is ?1, run for key; MOO_ENOTFOUND when none was. */
static int delete_by_key(struct moo_store *st, const char *sql, const char *key, const char *what,
			 struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, what);
	}
	bind_text(q, 1, key);
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_fail(st, err, what);
	} else if (!sqlite3_changes(st->db)) {
		r = MOO_ENOTFOUND;
	}
	sqlite3_finalize(q);
	return r;
}

int moo__store_sweep_remove(struct moo_store *st, const char *id, struct moo_error **err)
{
	int r = delete_by_key(st, "DELETE FROM sweeps WHERE id = ?1", id, "forget a sweep", err);

	return r == MOO_ENOTFOUND ? 0 : r;
}

/* "SWEEP:N": the newest job of point N of the sweep (a retried point has several). */
static int get_sweep_point(struct moo_store *st, const char *ref, struct moo_job **out,
			   struct moo_error **err)
{
	const char *colon = strrchr(ref, ':');
	struct moo_job **jobs = NULL;
	sqlite3_stmt *q = NULL;
	char *sweep = moo__strndup(ref, (size_t)(colon - ref)), *end;
	long idx = strtol(colon + 1, &end, 10);
	size_t n = 0;
	int r;

	if (end == colon + 1 || *end || idx < 0) {
		free(sweep);
		return moo__fail(err, MOO_EARG, "'%s' is not SWEEP:POINT", ref);
	}
	if (sqlite3_prepare_v2(st->db,
			       "SELECT " JOB_COLUMNS " FROM jobs WHERE sweep IN (?1, "
			       "'moo-sweep-' || ?1) AND sweep_index = ?2 ORDER BY created DESC "
			       "LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK) {
		free(sweep);
		return db_fail(st, err, "find a job");
	}
	bind_text(q, 1, sweep);
	sqlite3_bind_int64(q, 2, idx);
	r = query_jobs(st, q, &jobs, &n, err);
	if (!r && !n) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
				       "no job for point %ld of sweep '%s'", idx, sweep);

		moo__error_hint(e, "'moo ps --sweep %s' lists its points", sweep);
		r = MOO_ENOTFOUND;
	}
	if (!r) {
		*out = jobs[0];
		jobs[0] = NULL;
	}
	moo_jobs_free(jobs, n);
	sqlite3_finalize(q);
	free(sweep);
	return r;
}

int moo_store_remove_job(struct moo_store *st, const char *id, struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int r;

	r = exec_sql(st, "BEGIN IMMEDIATE", "lock", err);
	if (r) {
		return r;
	}
	if (sqlite3_prepare_v2(st->db, "DELETE FROM metrics WHERE job_id = ?1", -1, &q, NULL) !=
		    SQLITE_OK ||
	    (bind_text(q, 1, id), sqlite3_step(q)) != SQLITE_DONE) {
		r = db_fail(st, err, "remove a job");
		goto done;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM jobs WHERE id = ?1", -1, &q, NULL) !=
		    SQLITE_OK ||
	    (bind_text(q, 1, id), sqlite3_step(q)) != SQLITE_DONE) {
		r = db_fail(st, err, "remove a job");
		goto done;
	}
	if (sqlite3_changes(st->db) == 0) {
		r = moo__fail(err, MOO_ENOTFOUND, "no job '%s'", id);
		goto done;
	}
	r = exec_sql(st, "COMMIT", "remove a job", err);
done:
	sqlite3_finalize(q);
	if (r) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}

/* ---- cache ----------------------------------------------------------------------- */

int moo__store_cache_get(struct moo_store *st, const char *key, double max_age,
			 struct moo_buf *value, struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc, r;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM cache WHERE key = ?1 AND at >= ?2", -1,
			       &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "read the cache");
	}
	bind_text(q, 1, key);
	sqlite3_bind_double(q, 2, now() - max_age);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		moo_buf_puts(value, (const char *)sqlite3_column_text(q, 0));
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = MOO_ENOTFOUND; /* a miss is no error worth a message */
	} else {
		r = db_fail(st, err, "read the cache");
	}
	sqlite3_finalize(q);
	return r;
}

int moo__store_cache_put(struct moo_store *st, const char *key, const char *value,
			 struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO cache (key, value, at) VALUES (?1, ?2, ?3)",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "write the cache");
	}
	bind_text(q, 1, key);
	bind_text(q, 2, value);
	sqlite3_bind_double(q, 3, now());
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_fail(st, err, "write the cache");
	}
	sqlite3_finalize(q);
	return r;
}

/* ---- hosts ------------------------------------------------------------------------ */

int moo_store_put_host_facts(struct moo_store *st, const char *name,
			     const struct moo_host_facts *facts, struct moo_error **err)
{
	struct moo_buf json = MOO_BUF_INIT;
	sqlite3_stmt *q = NULL;
	int r = 0;

	moo_host_facts_to_json(&json, facts);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO hosts (name, facts, fingerprint, checked)"
			       " VALUES (?1, ?2, ?3, ?4)",
			       -1, &q, NULL) != SQLITE_OK) {
		r = db_fail(st, err, "record a host");
		goto done;
	}
	bind_text(q, 1, name);
	bind_text(q, 2, json.ptr);
	bind_text(q, 3, facts->key.fingerprint);
	sqlite3_bind_double(q, 4, now());
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_fail(st, err, "record a host");
	}
done:
	sqlite3_finalize(q);
	moo_buf_dispose(&json);
	return r;
}

int moo_store_remove_host_facts(struct moo_store *st, const char *name, struct moo_error **err)
{
	/* MOO_ENOTFOUND: never checked */
	return delete_by_key(st, "DELETE FROM hosts WHERE name = ?1", name, "forget a host", err);
}

/* One hosts row (name, facts, checked) into a moo_host_seen. */
static int row_host(sqlite3_stmt *q, struct moo_host_seen *h, struct moo_error **err)
{
	const char *facts = (const char *)sqlite3_column_text(q, 1);
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = moo_host_facts_from_json(&h->facts, facts ? facts : "", err))) {
		if (err && *err) {
			moo__error_hint(*err, "run 'moo hosts check' on the host again");
		}
		return r;
	}
	h->name = col_text(q, 0);
	h->checked = sqlite3_column_double(q, 2);
	return 0;
}

int moo_store_get_host_facts(struct moo_host_seen *out, struct moo_store *st, const char *name,
			     struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc, r;

	if (sqlite3_prepare_v2(st->db, "SELECT name, facts, checked FROM hosts WHERE name = ?1", -1,
			       &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "read a host");
	}
	bind_text(q, 1, name);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r = row_host(q, out, err);
	} else if (rc == SQLITE_DONE) {
		r = MOO_ENOTFOUND; /* never checked: the caller says what to do */
	} else {
		r = db_fail(st, err, "read a host");
	}
	sqlite3_finalize(q);
	return r;
}

int moo_store_list_hosts(struct moo_host_seen **out, size_t *n, struct moo_store *st,
			 struct moo_error **err)
{
	struct moo_host_seen *v = NULL;
	size_t len = 0;
	sqlite3_stmt *q = NULL;
	int rc, r = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT name, facts, checked FROM hosts ORDER BY name", -1,
			       &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "list the hosts");
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		MOO_GROW(v, len);
		if ((r = row_host(q, &v[len], err))) {
			break;
		}
		len++;
	}
	if (!r && rc != SQLITE_DONE) {
		r = db_fail(st, err, "list the hosts");
	}
	sqlite3_finalize(q);
	if (r) {
		moo_host_seen_free(v, len);
		return r;
	}
	*out = v;
	*n = len;
	return 0;
}

void moo_host_seen_dispose(struct moo_host_seen *h)
{
	if (!h) {
		return;
	}
	free(h->name);
	moo_host_facts_free(h->facts);
	memset(h, 0, sizeof(*h));
}

void moo_host_seen_free(struct moo_host_seen *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		moo_host_seen_dispose(&v[i]);
	}
	free(v);
}

/* ---- publications (moo publish, moo models) -------------------------------------- */

int moo__store_add_publication(struct moo_store *st, const struct moo_publication *p,
			       struct moo_error **err)
{
	sqlite3_stmt *q = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO publications (job_id, repo, branch, path, commit_id,"
			       " tag, alias, published) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "record a publication");
	}
	bind_text(q, 1, p->job_id);
	bind_text(q, 2, p->repo);
	bind_text(q, 3, p->branch);
	bind_text(q, 4, p->path);
	bind_text(q, 5, p->commit);
	bind_text(q, 6, p->tag);
	bind_text(q, 7, p->alias);
	sqlite3_bind_double(q, 8, p->published > 0 ? p->published : now());
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = db_fail(st, err, "record a publication");
	}
	sqlite3_finalize(q);
	return r;
}

int moo_store_list_publications(struct moo_publication **out, size_t *n, struct moo_store *st,
				struct moo_error **err)
{
	struct moo_publication *v = NULL;
	sqlite3_stmt *q = NULL;
	size_t k = 0;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT job_id, repo, branch, path, commit_id, tag, alias, published"
			       " FROM publications ORDER BY published DESC, rowid DESC",
			       -1, &q, NULL) != SQLITE_OK) {
		return db_fail(st, err, "list publications");
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct moo_publication *p;

		MOO_GROW(v, k);
		p = &v[k++];
		memset(p, 0, sizeof(*p));
		p->job_id = col_text(q, 0);
		p->repo = col_text(q, 1);
		p->branch = col_text(q, 2);
		p->path = col_text(q, 3);
		p->commit = col_text(q, 4);
		p->tag = col_text(q, 5);
		p->alias = col_text(q, 6);
		p->published = sqlite3_column_double(q, 7);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		moo_publications_free(v, k);
		return db_fail(st, err, "list publications");
	}
	*out = v;
	*n = k;
	return 0;
}

void moo_publication_dispose(struct moo_publication *p)
{
	if (!p) {
		return;
	}
	free(p->job_id);
	free(p->repo);
	free(p->branch);
	free(p->path);
	free(p->commit);
	free(p->tag);
	free(p->alias);
	memset(p, 0, sizeof(*p));
}

void moo_publications_free(struct moo_publication *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		moo_publication_dispose(&v[i]);
	}
	free(v);
}
