/*
 * slurm: the Slurm backend. Internal. A job on host "slurm:LOGIN" is staged on LOGIN (a
 * filesystem shared by the login and compute nodes is assumed: the job directory under
 * MOO_ROOT is the same path on both) and its supervisor is submitted as an sbatch script;
 * its state comes from sacct, else squeue, else scontrol, over LOGIN's transport.
 */
#ifndef MOO_SLURM_H
#define MOO_SLURM_H
#include "transport.h"
#include "moo/job.h"

/* True for "slurm:" and "slurm:LOGIN". */
bool moo__slurm_host(const char *host);

/* What Slurm says of one job. */
struct moo__slurm_info {
	char state[32]; /* "PENDING", "RUNNING", "TIMEOUT", … ("CANCELLED by 0" → "CANCELLED") */
	char reason[128]; /* squeue's %r / sacct's Reason ("Resources", "None", …) */
	int exit_code;    /* from ExitCode N:S, -1 when not known */
	int signal;
	int restarts; /* runs before this one (requeues: SLURM_RESTART_COUNT), -1 when not known */
	double start; /* when its current run started (StartTime, epoch), 0 when not known */
};

/* The sbatch options of a job: opts over config.yaml's 'slurm:' over the spec's resources. */
int moo__slurm_args(struct moo_buf *out, const struct moo_slurm_opts *opts,
		    const struct moo_spec *spec, struct moo_error **err);

/*
 * Submits script (a file on the login node) with sbatch --parsable and args (quoted words,
 * from moo__slurm_args), extra (more quoted words, or NULL); *id gets Slurm's job id.
 */
int moo__slurm_submit(struct moo__transport *t, const char *script, const char *args,
		      const char *extra, char **id, struct moo_error **err);

/*
 * Slurm's word on job id (as moo__slurm_submit gave it, "ID_TASK" in an array). One query
 * answers for every job of the login node asked for within a poll (moo__slurm_want), so a
 * poll of N jobs costs one sacct or squeue. *known false when Slurm no longer knows the job;
 * a query that fails is an error (MOO_EHOST), never an ended job.
 */
int moo__slurm_state(struct moo__transport *t, const char *id, struct moo__slurm_info *out,
		     bool *known, struct moo_error **err);
/* The next moo__slurm_state on this login node asks Slurm again. */
void moo__slurm_forget(const char *login);
/* Names a job the next query on this login node should cover. */
void moo__slurm_want(const char *login, const char *id);

/* scancel id. */
int moo__slurm_cancel(struct moo__transport *t, const char *id, struct moo_error **err);

/* MaxArraySize of the cluster (scontrol show config); 1001 when not said. */
int moo__slurm_max_array(struct moo__transport *t, long *out, struct moo_error **err);

/* True for a state after which the job will not run again. */
bool moo__slurm_state_done(const char *state);
#endif
