/* shell.c: a shell in a job's work folder on its host (moo ssh). */
#ifndef MOO_SHELL_H
#define MOO_SHELL_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/job.h"

/*
 * Runs a shell in the job's work/ folder on its host, on this process's stdin, stdout
 * and stderr: the user's login shell when argv is NULL, else argv (each word quoted, as
 * one command). pty: ask for a terminal (give it when stdin is one; the caller puts its
 * terminal in raw mode). *status gets the exit status (128 + N for signal N).
 */
MOO_EXTERN int moo_job_shell(int *status, const struct moo_job *job, const char *const *argv,
			     size_t argc, bool pty, struct moo_error **err);
#endif
