/*
 * runtime: how a job's command runs on a host — the 'host' runtime (an interpreter found on
 * the host, or a venv named by the environment's hash) and the container runtimes docker,
 * podman and apptainer (one sh command line each, built by a pure function). Also the
 * preflight that refuses a job a host cannot run, and the derived environment image. Internal.
 */
#ifndef MOO_RUNTIME_H
#define MOO_RUNTIME_H
#include "transport.h"

struct moo__interp {
	char *path;    /* on the host: "/usr/bin/python3" */
	char *version; /* "3.11.2" */
};

/*
 * Finds an interpreter on the host for the spec's framework.runtime that has every
 * requirement (runtime.requirement, plus the framework's own package: scikit-learn for
 * sklearn, torch for pytorch, tensorflow for tensorflow, at framework.version). The
 * candidates are $MOO_PYTHON alone when set, else python<version> in each folder of
 * PATH, in order; each is asked (importlib.metadata) and the first that has everything
 * wins. MOO_ERESOLVE names what is missing on each and what is installed. Positive
 * answers are cached in the store (when st is not NULL) for an hour.
 */
int moo__runtime_resolve(struct moo__interp *out, struct moo__transport *t, struct moo_store *st,
			 const struct moo_spec *spec, struct moo_error **err);
void moo__interp_dispose(struct moo__interp *i);

/* ---- container runtimes ------------------------------------------------------------- */

enum moo__engine {
	MOO__ENGINE_HOST = 0,
	MOO__ENGINE_DOCKER = 1,
	MOO__ENGINE_PODMAN = 2,
	MOO__ENGINE_APPTAINER = 3,
};

/* "host", "docker", "podman", "apptainer". */
const char *moo__engine_name(enum moo__engine e);
/* The engine of a name; -1 when there is none (singularity counts as apptainer). */
int moo__engine_parse(const char *name);

/* Everything one runtime command line depends on; all strings borrowed. */
struct moo__rt_in {
	enum moo__engine engine;
	const char *const *engine_opts; /* global options before 'run': "--root", "/x", "-H", … */
	size_t n_engine_opts;
	const char *image; /* "ref@sha256:…", a local name, or an apptainer .sif path */
	const char *name;  /* the container's name (the job id), or NULL */
	enum moo_accel accel;
	unsigned count;      /* GPUs or NPUs; 0 means 1 */
	const char *visible; /* device indices "0,1", or NULL: 0 … count-1 */
	double cpus;         /* 0: no limit */
	uint64_t memory;     /* bytes; 0: no limit */
	const char *job_dir; /* bind-mounted read-write at the same path */
	const char *work_dir;
	const char *dataset_dir; /* bind-mounted read-only at the same path, or NULL */
	const char *const *env;  /* "NAME=VALUE" */
	size_t n_env;
	const char *const *argv; /* the entry point's command inside: python3 -u train.py … */
	size_t argc;
};

/*
 * Appends the one sh command line that runs in->argv with in->engine, every value quoted
 * with moo_buf_shquote (the exact lines are in moo-run(1) and tests/unit/test_runtime.c):
 *
 *   host       env [CUDA_VISIBLE_DEVICES=…|ASCEND_VISIBLE_DEVICES=…] NAME=VALUE… ARGV…
 *   docker     docker OPTS run --rm --init --name N --network host -v JOB:JOB -w WORK
 *              [--gpus "device=0,1"] [npu devices] [--cpus C] [--memory B] -e NAME=VALUE…
 *              IMAGE ARGV…
 *   podman     the same, with CDI devices (--device nvidia.com/gpu=I) for GPUs
 *   apptainer  apptainer OPTS exec --cleanenv --bind JOB --pwd WORK [--nv] [--cpus C]
 *              [--memory B] --env NAME=VALUE… IMAGE ARGV… (docker:// added to references)
 *
 * MOO_EARG for a value no command line can carry (a newline in an image reference or a
 * path with ':' in a bind mount, an env name with '=' in it).
 */
int moo__runtime_command(struct moo_buf *out, const struct moo__rt_in *in, struct moo_error **err);

/* What a resolved image needs of a host (resolve's plan; or what --image says). */
struct moo__needs {
	const char *image;        /* for messages */
	enum moo_accel accel;     /* what the spec asks for */
	unsigned count;           /* GPUs or NPUs; 0 means 1 */
	const char *cuda;         /* the image's CUDA version "12.4", or NULL */
	const char *min_driver;   /* the NVIDIA driver that CUDA needs "550.54.14", or NULL */
	const char *const *archs; /* the image's platforms "amd64", "arm64"; none: any */
	size_t n_archs;
	enum moo__engine engine; /* the chosen runtime; its engine must be on the host */
};

/*
 * Preflight, before anything is sent: 0 when the host can run it, else MOO_ERESOLVE with
 * the reason — a GPU (NPU) job on a host without (enough) GPUs (NPUs), an image whose CUDA
 * is newer than the host's driver supports (nvidia-smi's "CUDA Version") or that needs a
 * newer driver, an image without the host's architecture, or an engine the host lacks.
 */
int moo__runtime_preflight(const struct moo__needs *need, const struct moo_host_facts *host,
			   struct moo_error **err);

/*
 * The runtime for a host when none is asked for: with an image, the first engine the host
 * has of podman, docker, apptainer (MOO_ERESOLVE when it has none); without, host.
 */
int moo__runtime_choose(enum moo__engine *out, const struct moo_host_facts *host, const char *image,
			struct moo_error **err);

/* Compares dotted versions numerically ("12.10" > "12.4"); <0, 0, >0. */
int moo__version_cmp(const char *a, const char *b);

/* ---- derived environments ------------------------------------------------------------ */

/*
 * The environment key: sha256 hex of "moo-env 1\n" BASE "\n" and the requirements sorted,
 * one a line. base is the base image's digest reference (container runtimes) or the
 * interpreter's path and version (host runtime: the venv's name). MOO_EARG when a
 * requirement is empty, starts with '-' or holds a control character.
 */
int moo__env_key(char hex[MOO__SHA256_HEX], const char *base, const char *const *reqs, size_t n,
		 struct moo_error **err);

/* The Containerfile: FROM base, then one RUN pip install of the requirements, sorted. */
void moo__env_containerfile(struct moo_buf *out, const char *base, const char *const *reqs,
			    size_t n);
/* The same with a setup line run first (RUN setup) and pip's --extra-index-url (either NULL). */
void moo__env_containerfile_with(struct moo_buf *out, const char *base, const char *setup,
				 const char *index, const char *const *reqs, size_t n);

/* The same for apptainer: a definition file bootstrapped from the base image. */
void moo__env_definition(struct moo_buf *out, const char *base, const char *const *reqs, size_t n);
void moo__env_definition_with(struct moo_buf *out, const char *base, const char *setup,
			      const char *index, const char *const *reqs, size_t n);

/* "moo-env:<key>", the derived image's name. */
char *moo__env_image(const char *key);

/*
 * The sh command line that builds the derived image only when it is missing:
 *   ENGINE OPTS image inspect moo-env:KEY >/dev/null 2>&1 || ENGINE OPTS build
 *   --network host -t moo-env:KEY -f DIR/Containerfile DIR
 * (apptainer: test -f DIR/env.sif || apptainer build DIR/env.sif DIR/Containerfile.def).
 */
void moo__env_build_command(struct moo_buf *out, enum moo__engine engine,
			    const char *const *engine_opts, size_t n_opts, const char *key,
			    const char *dir);

/*
 * The host runtime's venv, only when missing: python -m venv --system-site-packages into a
 * temporary folder, pip install, then rename to ROOT/envs/KEY (so a half-built venv is never
 * used). Its interpreter is ROOT/envs/KEY/bin/python.
 */
void moo__env_venv_command(struct moo_buf *out, const char *python, const char *root,
			   const char *key, const char *const *reqs, size_t n);

/* ---- choosing and preparing the runtime of one job ----------------------------------- */

/* How one job runs on its host, decided before anything is sent. */
struct moo__runtime {
	enum moo__engine engine;
	char *base;         /* the image asked for (--image), or NULL */
	char *image;        /* what runs: base, or the derived moo-env:KEY (apptainer: its .sif) */
	char *env_key;      /* the derived environment's key, or NULL when none was needed */
	bool env_built;     /* it was built now (false: found on the host) */
	struct moo_buf log; /* lines for process.log: what was built or found, the build output */
	char **engine_opts; /* from $MOO_<ENGINE>_OPTS on the host, split on blanks */
	size_t n_engine_opts;
	struct moo__interp interp; /* host: the interpreter found; containers: its name inside */
};

/*
 * Prepares the runtime the plan names (moo_plan_make made it, or a lock was parsed into it):
 * nothing is probed or resolved here. Containers run moo_plan_ref(plan) (the digest, or the
 * engine's id of a local image), with the derived image of plan->requirements (and its setup
 * and index) built when the host does not have it yet; the host runtime runs the lock's
 * interpreter when the host still has it, else the one found for the spec (a venv of the
 * requirements when none has them).
 */
int moo__runtime_prepare(struct moo__runtime *out, struct moo__transport *t, struct moo_store *st,
			 const struct moo_spec *spec, const struct moo_plan *plan,
			 struct moo_error **err);

/* moo_plan_make over an open transport (st: the facts' cache, or NULL). */
int moo__plan_make(struct moo_plan **out, struct moo__transport *t, struct moo_store *st,
		   const struct moo_bundle *b, const struct moo_plan_opts *o,
		   struct moo_error **err);

/*
 * Records in p what the prepared runtime runs: containers the engine's image id (and the
 * derived environment's key); the host runtime its interpreter, version and every
 * distribution it imports (importlib.metadata, asked on the host now; st, when not NULL,
 * caches the listing per host and interpreter for as long as the folders on its sys.path
 * keep their modification times and inodes).
 */
int moo__runtime_record(struct moo_plan *p, const struct moo__runtime *rt, struct moo__transport *t,
			struct moo_store *st, struct moo_error **err);

/*
 * 0 when now (what the host has) matches locked (a lock's interpreter and packages); else
 * MOO_ERESOLVE: one error saying so, then one per difference.
 */
int moo__plan_drift(const struct moo_plan *locked, const struct moo_plan *now, const char *host,
		    struct moo_error **err);
void moo__runtime_dispose(struct moo__runtime *rt);
/* Shared between runtime.c, runtime_python.c, runtime_env.c and plan.c. */
void moo__word(struct moo_buf *out, const char *w);
bool moo__has_ctl(const char *s);
int moo__engine_opts(struct moo__runtime *rt, struct moo__transport *t, struct moo_error **err);
int moo__derive(struct moo__runtime *rt, struct moo__transport *t, const struct moo_plan *plan,
		const char *const *reqs, size_t n, struct moo_error **err);
const char *moo__last_line(struct moo_buf *out);
int moo__host_interp(struct moo__runtime *rt, struct moo__transport *t, struct moo_store *st,
		     const struct moo_spec *spec, struct moo_error **err);

#endif
