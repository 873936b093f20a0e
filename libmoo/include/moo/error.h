#ifndef MOO_ERROR_H
#define MOO_ERROR_H
#include <signal.h>
#include "moo/common.h"

/*
 * Every fallible call returns 0 or one of these negative codes. Values are never
 * reused; add new ones at the end. moo(1) maps them to exit codes.
 */
enum moo_code {
	MOO_OK = 0,
	MOO_EIO = -2,        /* a file or OS call failed */
	MOO_EARG = -3,       /* the caller passed a bad argument */
	MOO_ESPEC = -4,      /* metadata.yaml is invalid */
	MOO_EBUNDLE = -5,    /* a bundle is invalid or hostile */
	MOO_ENET = -6,       /* a download failed */
	MOO_EHOST = -7,      /* host unreachable, authentication or host-key failure */
	MOO_ERESOLVE = -8,   /* nothing resolves: framework, version, accelerator, interpreter */
	MOO_EJOB = -9,       /* the job ran and failed */
	MOO_ENOTFOUND = -10, /* no such job, host, file or template */
	MOO_EEXIST = -11,    /* it exists already and is not replaced */
	MOO_ESTORE = -12,    /* the job store failed */
	MOO_EINTR = -13,     /* interrupted */
};

enum moo_severity {
	MOO_SEV_ERROR = 0,
	MOO_SEV_WARNING = 1,
};

/*
 * One problem. Validators chain every problem they find through next; the first
 * element's code is the call's return value. Strings are owned by the error.
 */
struct moo_error {
	int code; /* enum moo_code */
	enum moo_severity severity;
	char *message;    /* one line, lowercase, no final period */
	char *hint;       /* imperative advice, or NULL */
	char *file;       /* input the problem is in, or NULL */
	int line, column; /* 1-based; 0 when unknown */
	char *cause;      /* the dependency's own message, or NULL */
	struct moo_error *next;
};

/* Frees the whole chain. NULL-safe. */
MOO_EXTERN void moo_error_free(struct moo_error *err);

/* A short name for a code, like "spec" or "host", for JSON output. */
MOO_EXTERN const char *moo_code_name(int code);

/*
 * Receives what libmoo refuses and goes on without (a job's number out of range, a line
 * it cannot take): cb(the warning, cb_data), the warning borrowed for the call.
 * Process-wide; NULL (the default): dropped. The text may hold what a job wrote: escape
 * it before it reaches a terminal.
 */
/*
 * A flag a signal handler sets (SIGINT, SIGTERM): while it is non-zero, libmoo's long
 * operations (packing, extracting, downloading, uploading) stop, remove what they had
 * half written, and return MOO_EINTR. Process-wide; NULL (the default): none.
 */
MOO_EXTERN void moo_set_interrupt_flag(const volatile sig_atomic_t *flag);

typedef void (*moo_warning_cb)(const struct moo_error *warning, void *cb_data);
MOO_EXTERN void moo_set_warning_cb(moo_warning_cb cb, void *cb_data);
#endif
