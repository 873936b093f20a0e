/*
 * job: what the files of a job's lifecycle share (internal). The stages, each a file:
 * job.c (state, refresh, cancel, remove, import), job_params.c (training_params and
 * --set), job_launch.c (stage, launch the supervisor, moo_plan_command), job_logs.c (logs,
 * follow), job_collect.c (pull results, verify the manifest, fetch), job_files.c (the job's
 * own files on its host: key=value files, process checks, metrics).
 */
#ifndef MOO__JOB_H
#define MOO__JOB_H
#include "embedded.h"
#include "transport.h"

#define STATE_WAIT_S 10.0 /* how long a new supervisor may take to write state */
#define RECONNECT_S  60.0 /* how long moo logs -f tries to reach a host again */
#define LOG_CHUNK    (1u << 20)
#define TAIL_BYTES   65536u /* what moo logs -n N reads, from the end */
#define BAD_WAIT_S   15.0   /* how long a follower waits for a job's bad files to go */

struct kvlist {
	struct moo_kv *v;
	size_t n;
};

double moo__now(void);
void moo__nap(double seconds);
void moo__wait_change(struct moo__transport *t, const char *dir, double seconds);
int moo__open_host(struct moo__transport **out, const char *host, struct moo_error **err);
char *moo__job_file(const struct moo_job *job, const char *name);
char *moo__kv_get(const char *text, const char *key);
long long moo__kv_int(const char *text, const char *key, long long def);
double moo__kv_time(struct moo__transport *t, const char *text, const char *key);
extern _Thread_local bool moo__defer_results;
void moo__kvlist_dispose(struct kvlist *l);
int moo__apply_sets(const struct moo_spec *spec, const struct moo_run_opts *o,
		    struct kvlist *params, struct kvlist *env, struct moo_error **err);
char *moo__params_to_json(const struct kvlist *params);
const struct moo__embedded *moo__script_named(const char *name);
int moo__proc_start(struct moo__transport *t, long pid, unsigned long long *v_out,
		    struct moo_error **err);
int moo__job_read(struct moo__transport *t, const struct moo_job *job, const char *path,
		  uint64_t offset, size_t max, struct moo_buf *out, struct moo_error **err);
void moo__note_state(struct moo__transport *t, struct moo_job *job, const char *state);
int moo__job_group(struct moo__transport *t, const struct moo_job *job, const char *state,
		   long *pgid, struct moo_error **err);
int moo__signal_tree(struct moo__transport *t, const struct moo_job *job, const char *state,
		     long pgid, const char *sig, int *status, struct moo_error **err);
int moo__exit_is_end(struct moo__transport *t, const struct moo_job *job, const char *state,
		     bool *end, struct moo_error **err);
void moo__read_metrics(struct moo__transport *t, struct moo_job *job);
int moo__read_state(struct moo__transport *t, const struct moo_job *job, const char *path,
		    struct moo_buf *b, struct moo_error **err);
char *moo__results_dir(const struct moo_job *job);
/* Every file of a manifest checked under dir, a copy of src (on host, or NULL here; src may be
 * dir itself), and no other file there: MOO_EIO naming the first that differs, is missing
 * or is added (job_collect.c). */
int moo__verify_manifest(const char *manifest, const char *dir, const char *src, const char *host,
			 struct moo_error **err);
int moo__finish(struct moo__transport *t, struct moo_job *job, const char *exit_text,
		struct moo_error **err);
void moo__starting_mark(char **mark, const char *id);
void moo__set_detail(struct moo_job *job, const char *detail);
int moo__refresh(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
		 struct moo_error **err);
#endif
