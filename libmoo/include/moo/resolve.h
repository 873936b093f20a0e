#ifndef MOO_RESOLVE_H
#define MOO_RESOLVE_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/spec.h"
#include "moo/host.h"
#include "moo/bundle.h"
#include "moo/store.h"
#include "moo/images.h"

/*
 * resolve: a spec's framework, version, Python and accelerator, and the facts of a host,
 * to one pinned container image and the requirements layer on top of it (a plan).
 * The table is moo/images.h's; moo.lock is moo/lock.h's.
 */

/*
 * What a runtime needs to run a job: the image to pull (by digest once pinned), the
 * accelerator and how many, the requirements to install on top, the driver it needs.
 * A plain value; strings are NULL when unknown or not applicable.
 */
struct moo_plan {
	char *framework;         /* "tensorflow" */
	char *framework_version; /* "1.12.0" */
	char *python;            /* the image's Python, "2.7" */
	enum moo_accel accelerator;
	unsigned count;   /* GPUs or NPUs the spec asks for (0 on a CPU) */
	char *cuda;       /* gpu: the image's CUDA version */
	char *cann;       /* npu: the image's CANN version */
	char *min_driver; /* gpu: the oldest NVIDIA driver the image runs on */

	char *image;    /* the reference in the table: "docker.io/tensorflow/tensorflow:1.12.0" */
	char *pull;     /* where it is fetched from after mirrors: "mirror:5000/tensorflow/…" */
	char *digest;   /* "sha256:…" of the manifest or index `image` names, once pinned */
	char *platform; /* the host's platform, "linux/amd64" */
	char *platform_digest; /* the manifest for that platform (= digest for a single manifest) */
	char **archs;          /* platforms the image has ("linux/arm64/v8"): the registry's
				  when pinned, else the table's */
	size_t n_archs;

	char **requirements; /* the requirements layer: the image's missing framework package,
				then the spec's runtime.requirement */
	size_t n_requirements;

	char *source; /* where the entry came from: "images.yaml:57", "config.yaml:12" */
	char *setup;  /* a base without Python (an NVIDIA CUDA image): the sh line that adds it,
			 run before pip in the derived image; else NULL */
	char *index;  /* the pip index the requirements come from ("…/whl/cu130"), or NULL */

	/* What runs it: set by moo_plan_make, kept by a job's lock (spec/lockfile.md). */
	char *runtime; /* "host", "docker", "podman" or "apptainer" */
	/* Set by moo_job_start when the job starts: what actually ran. */
	char *image_id;    /* containers: the engine's id of the image started (derived or not) */
	char *env_key;     /* the derived image's (or host venv's) key, or NULL when none */
	char *interpreter; /* host: the interpreter's real path on the host */
	char *interpreter_version; /* host: "3.11.2" */
	char **packages;           /* host: "name==version" of every importable distribution,
				      sorted by name (importlib.metadata on the host) */
	size_t n_packages;
	/* (room for more of what ran, a dataset's sha256 for one: the lock keeps unknown
	 * keys' neighbours as they are) */

	/* Set by the caller before writing a lock (moo_lock_write); NULL when unknown. */
	char *bundle_sha256; /* the bundle's sha256 */
	char *bundle_source;
	char *host;       /* the host resolved for ("local" for this machine) */
	char *host_facts; /* the host's facts as JSON text (moo_host_facts_to_json) */
	char *command;    /* the exact runtime command, when the runtime gave one */
	char *created;    /* RFC 3339 UTC time the lock was written */
};

/* The reference to run: "pull@digest" when pinned, else "pull". Caller frees. */
MOO_EXTERN char *moo_plan_ref(const struct moo_plan *plan);

struct moo_resolve_opts {
	unsigned version; /* MOO_RESOLVE_OPTS_VERSION */
	int accelerator;  /* enum moo_accel, or -1 for the spec's */
	/* The host's facts (arch, driver, CUDA), or NULL: nothing is known of the host. */
	const struct moo_host_facts *facts;
};
#define MOO_RESOLVE_OPTS_VERSION 1
#define MOO_RESOLVE_OPTS_INIT                      \
	{                                          \
		MOO_RESOLVE_OPTS_VERSION, -1, NULL \
	}

/*
 * Picks the table entry for the spec on the host. MOO_ERESOLVE when none fits; the error
 * says which of framework, version, Python, accelerator, driver or platform failed, and
 * its hint lists the nearest versions that do resolve. Does not touch the network.
 */
MOO_EXTERN int moo_resolve(struct moo_plan **out, const struct moo_images *t,
			   const struct moo_spec *spec, const struct moo_resolve_opts *opts,
			   struct moo_error **err);

MOO_EXTERN void moo_plan_free(struct moo_plan *plan);
#endif
