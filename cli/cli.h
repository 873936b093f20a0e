/* The moo command: shared declarations of cli/. Only cli/ prints. */
#ifndef MOO_CLI_H
#define MOO_CLI_H
#include <moo.h>
#include "../libmoo/banned.h"

/* Exit codes: the contract in moo(1). */
enum {
	EXIT_OK = 0,
	EXIT_JOB_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_INVALID = 3,
	EXIT_HOST = 4,
	EXIT_RESOLVE = 5,
	EXIT_LOCAL = 6,
	EXIT_INTERRUPTED = 130,
};

enum opt_type {
	OPT_FLAG,   /* bool */
	OPT_STRING, /* const char * */
	OPT_INT,    /* long */
	OPT_LIST,   /* struct strlist, repeatable */
};

struct strlist {
	const char **items;
	size_t n;
};

struct opt {
	char short_name; /* 0 when none */
	const char *long_name;
	const char *arg; /* "FILE" for options that take a value; NULL for flags */
	const char *help;
	enum opt_type type;
	void *ptr;
};
#define OPT_END                                     \
	{                                           \
		0, NULL, NULL, NULL, OPT_FLAG, NULL \
	}

/*
 * What main does for a verb before calling its exec (as git's RUN_SETUP): the prologue the
 * job verbs share, done once here.
 */
enum cmd_flags {
	CMD_STORE = 1 << 0,   /* open the store: ctx->st */
	CMD_JOB = 1 << 1,     /* CMD_STORE, and find the job the first argument names: ctx->job */
	CMD_REFRESH = 1 << 2, /* with CMD_JOB: bring its record up to date from its directory */
};

/* What a table-driven verb gets: its positional arguments, and what its flags set up. */
struct cmd_ctx {
	int argc;
	char **argv;
	struct moo_store *st; /* CMD_STORE, CMD_JOB: closed by main after exec */
	struct moo_job *job;  /* CMD_JOB: freed by main after exec */
};

struct cmd {
	const char *name;
	const char *summary; /* one line, for 'moo --help' */
	const char *args;    /* the synopsis after the options: "[PATH]" */
	/* A verb that parses its own arguments sets run ... */
	int (*run)(const struct cmd *self, int argc, char **argv);
	/* ... one that the table drives sets exec: main parses opts (min_pos to max_pos
	 * positional arguments, -1: any number), calls check (usage checks, or NULL; -1 to go
	 * on), sets up what flags ask for, then calls exec. */
	int (*exec)(const struct cmd *self, struct cmd_ctx *ctx);
	const struct opt *opts;
	int min_pos, max_pos;
	unsigned flags;        /* enum cmd_flags */
	const char *const *on; /* CMD_JOB: where the verb's --on lands (OPT_ON), or NULL */
	int (*check)(const struct cmd *self);
};

/* Runs a verb from the table: argv[0] is its name. Returns the exit code. */
int cmd_dispatch(const struct cmd *cmd, int argc, char **argv);

/*
 * Parses argv[1..] against opts (--help is implied), leaving the positional
 * arguments in argv[0..*npos). Returns -1 to go on, or an exit code to return now
 * (0 after --help, EXIT_USAGE after printing the error).
 */
int opt_parse(const struct cmd *cmd, const struct opt *opts, int argc, char **argv, int *npos,
	      int min_pos, int max_pos);
void opt_usage(const struct cmd *cmd, const struct opt *opts, FILE *f);
/* Prints "moo: error: …" and the 'try' line; returns EXIT_USAGE. */
int usage_error(const struct cmd *cmd, const char *hint, const char *fmt, ...) MOO_PRINTF(3, 4);
/* -1 when name may be a job's (--name), else usage_error's exit: not empty, no control
 * character or ':', not beginning like an id (cmd_run.c). */
int check_job_name(const struct cmd *self, const char *name);

/*
 * "Did you mean": libmoo's internal moo__suggest (util/suggest.c, declared in
 * libmoo/internal.h), which the library's own "did you mean" hints use too. Not exported
 * from libmoo.so; moo links libmoo's static archive (cli/meson.build), so it reaches it.
 */
const char *moo__suggest(const char *word, const char *const *candidates, size_t n);

/* main.c: the flag SIGINT and SIGTERM set (moo_set_interrupt_flag), and the end of the grace
 * period armed by the first of them, once a verb has answered the signal itself. */
const volatile sig_atomic_t *interrupt_flag(void);
void interrupt_answered(void);
/* output.c */
int exit_code_for(int moo_code);
bool color_on(FILE *f);
/* s with control characters escaped (\e, \xNN): for text from bundles, jobs and hosts. */
const char *esc(const char *s);
/* s cut to width columns and padded to them with spaces, counting characters as a terminal
 * shows them (printf's %-20.20s counts bytes: it cuts a character in two and pads 'ünï'
 * short); in a ring of 4. */
const char *cols(const char *s, int width);
/* Prints a libmoo warning (moo_set_warning_cb). */
void print_warning_cb(const struct moo_error *w, void *data);
/* Renders a chain of errors and warnings on stderr; returns the exit code of the first error. */
int print_errors(const struct moo_error *err);
void print_error_msg(const char *hint, const char *fmt, ...) MOO_PRINTF(2, 3);
/* The chain as a JSON array of diagnostics (a jansson json_t *, as void * to keep jansson out of
 * headers). */
void *errors_to_json(const struct moo_error *err);
/*
 * --json: set by opt_parse when given, so that stdout gets exactly one JSON document. The
 * first error rendered (print_errors, usage_error) is kept, and json_finish (main, after the
 * verb) prints {"error": DIAGNOSTIC} when the verb printed no document. Returns code.
 */
extern bool json_mode;
int json_finish(int code);
/* A member json_finish puts in its failure document beside "error" (a json_t *, taken). */
void json_failure_member(const char *key, void *value);
/* Prints a JSON value on stdout, indented, followed by a newline, and frees it. */
void print_json(void *json);
/* A moo_progress_cb whose data is a short label: a bar on stderr when it is a terminal. */
void progress_cb(uint64_t done, uint64_t total, void *data);
/* Clears the bar, if one was drawn. */
void progress_end(void);
/*
 * Times in JSON, one form in every verb: RFC 3339 in UTC with milliseconds,
 * "2026-12-04T15:34:07.757Z" (moo.lock's times are the same form in whole seconds);
 * json_time gives a jansson string, or null for 0.
 */
void format_time_json(char *out, size_t len, double t);
void *json_time(double t);
/* A number in the shortest form that reads back the same: 0.3, 45.4951, 1e+30. */
void format_number(char *out, size_t len, double v);
/* "1.5 MiB", "12 B". */
void format_size(char *out, size_t len, uint64_t bytes);

/*
 * Jobs. open_store and find_job print what went wrong and return an exit code, or -1
 * to go on. find_job with refresh brings the record up to date from the job directory.
 * host (--on, or NULL): a job this store does not know is looked for on that host
 * (moo_job_import); a known job on another host is a usage error.
 */
int open_store(struct moo_store **st);
int find_job(struct moo_store *st, const char *ref, const char *host, bool refresh,
	     struct moo_job **job);
/* open_store and find_job: on failure the store is closed again (*st NULL). */
int open_job(const char *ref, const char *host, bool refresh, struct moo_store **st,
	     struct moo_job **job);
/* The --on option of the job verbs. */
#define OPT_ON(ptr)                                                                           \
	{                                                                                     \
		0, "on", "HOST", "the job's host, to reach a job this machine does not know", \
			OPT_STRING, ptr                                                       \
	}
void format_duration(char *out, size_t len, double seconds);
void job_outcome(const struct moo_job *j, char *out, size_t len);
/* The job as a JSON object (jansson json_t *); full adds the command, params and spec. */
void *job_to_json(const struct moo_job *j, bool full);
/*
 * A parameter's value as JSON (jansson json_t *), with the text it was given, as the job's
 * params.json has it: a number written as typed (1.10 stays 1.10, 1.00 is not 1.0; written
 * so by print_json only), true or false a boolean, anything else a string.
 */
void *param_to_json(const struct moo_kv *kv);
/* The job's parameters so, as one object in their order ({} when they cannot be read). */
void *params_to_json(const struct moo_job *j);
/* problems: NULL, or per job why it could not be looked at now (STATUS 'unknown'). */
void print_job_table(struct moo_job **jobs, const char *const *problems, size_t n);
void print_job_status(const struct moo_job *j);
void print_job_detail(const struct moo_job *j);
/* Follows a job's log to stdout until it ends or Ctrl-C; returns the exit code. */
int follow_job(struct moo_store *st, struct moo_job *job, uint64_t offset, bool follow);
/*
 * What moo run and moo reproduce do with the job they started: with detach, print its id
 * (or its record with json) and return; else follow its log to the end, print the outcome
 * and metrics, the last tail_lines of the log when it failed, and the record with json.
 * Returns the exit code: EXIT_OK, EXIT_JOB_FAILED, or EXIT_INTERRUPTED on Ctrl-C.
 */
int attend_job(struct moo_store *st, struct moo_job *job, bool detach, bool json, long tail_lines);

/* The verbs, one per file. */
extern const struct cmd cmd_validate;
extern const struct cmd cmd_datasets;
extern const struct cmd cmd_init;
extern const struct cmd cmd_pack;
extern const struct cmd cmd_inspect;
extern const struct cmd cmd_run;
extern const struct cmd cmd_ps;
extern const struct cmd cmd_status;
extern const struct cmd cmd_logs;
extern const struct cmd cmd_cancel;
extern const struct cmd cmd_fetch;
extern const struct cmd cmd_rm;
extern const struct cmd cmd_show;
extern const struct cmd cmd_compare;
extern const struct cmd cmd_hosts;
extern const struct cmd cmd_ssh;
extern const struct cmd cmd_sweep;
extern const struct cmd cmd_resolve;
extern const struct cmd cmd_reproduce;
extern const struct cmd cmd_diff;
extern const struct cmd cmd_publish;
extern const struct cmd cmd_models;
extern const struct cmd cmd_serve;
extern const struct cmd cmd_predict;

extern const struct cmd *const commands[];
extern const size_t n_commands;
#endif
