/* plan.c: the plan of a run (host probed, runtime chosen, image pinned, preflight). */
#ifndef MOO_PLAN_H
#define MOO_PLAN_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/bundle.h"
#include "moo/store.h"
#include "moo/resolve.h"

/*
 * The one plan of a run, made once (moo resolve, moo run, moo reproduce and moo serve go
 * through it): probes the host (over its transport, cached per host), picks the runtime
 * (opts->runtime; else a container engine the host has when opts->image is given; else
 * host), resolves the spec's image for a container runtime (or takes opts->image) and pins
 * it to a digest unless offline, and refuses what the host cannot run (preflight: GPUs,
 * NPUs, CUDA and driver, architecture, engine). The host runtime resolves no image: its
 * interpreter and packages are recorded when the job starts. MOO_ERESOLVE when nothing
 * fits, MOO_ENET when the registry cannot pin, MOO_EHOST when the host is unreachable.
 */
struct moo_plan_opts {
	unsigned version;         /* MOO_PLAN_OPTS_VERSION */
	const char *host;         /* NULL or "local": this machine; else an SSH host */
	const char *runtime;      /* "docker", "podman", "apptainer", "host" or NULL: chosen */
	const char *image;        /* --image: the image a container runtime runs, or NULL */
	int accelerator;          /* enum moo_accel, or -1 for the spec's */
	bool offline;             /* do not pin (moo resolve --offline) */
	bool accept_new_host_key; /* record an unknown host key in known_hosts */
	const char *config_path;  /* config.yaml (NULL: moo_config_path) */
	bool resolve_image;       /* resolve and pin the spec's image for the host runtime too (what
				     moo resolve shows: the image the project would run in) */
	struct moo_store *store;  /* where the host's facts are cached, borrowed; NULL: the
				     default store, opened for the call */
	bool no_preflight;        /* a plan to look at, not to run (moo resolve): the host need not
				     have the engine, the GPUs or the driver */
};
#define MOO_PLAN_OPTS_VERSION 1
#define MOO_PLAN_OPTS_INIT                                                                    \
	{                                                                                     \
		MOO_PLAN_OPTS_VERSION, NULL, NULL, NULL, -1, false, false, NULL, false, NULL, \
			false                                                                 \
	}
MOO_EXTERN int moo_plan_make(struct moo_plan **out, const struct moo_bundle *b,
			     const struct moo_plan_opts *opts, struct moo_error **err);

/*
 * Calls cb for each package that differs between two lists of "name==version" sorted by
 * name as a lock keeps them (interpreter.packages): was NULL when only b has it, now NULL
 * when only a has it; names are compared lowercased with '_' as '-'.
 */
MOO_EXTERN void moo_packages_diff(char *const *a, size_t na, char *const *b, size_t nb,
				  void (*cb)(const char *name, const char *was, const char *now,
					     void *data),
				  void *data);
#endif
