#ifndef MOO_SPEC_H
#define MOO_SPEC_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"

/* Where a value was written: 1-based line and column; 0 when not from a file. */
struct moo_mark {
	int line, column;
};

/* A key and the text of its scalar value, in document order. */
struct moo_kv {
	char *key;
	char *value;
	bool quoted; /* the value was a quoted YAML string (so "5" is text, not a number) */
	struct moo_mark mark;
};

enum moo_accel {
	MOO_ACCEL_CPU = 0,
	MOO_ACCEL_GPU = 1,
	MOO_ACCEL_NPU = 2,
};

/*
 * A parsed and validated metadata.yaml (spec/metadata.md is normative). A plain
 * value: read the fields, never change them. Optional strings are NULL when absent.
 */
struct moo_spec {
	char *file; /* the name diagnostics use */

	struct {
		char *name;
		char *version;
		struct {
			char *name;         /* "python" */
			char *version;      /* "2.7", or NULL */
			char **requirement; /* pip specifiers */
			size_t n_requirement;
		} runtime;
	} framework;

	struct {
		char *name, *version, *source, *creator, *time;
	} model;

	struct {
		char *name, *version, *source, *sha256; /* name is NULL when no dataset */
	} dataset;

	struct {
		char *data_load;
		char *padding;
		struct moo_kv *data_split;
		size_t n_data_split;
	} data_process;

	char *model_architecture; /* the free-form mapping as JSON text, or NULL */

	struct moo_kv *training_params; /* known and user parameters, in document order */
	size_t n_training_params;

	char *entry_point;
	struct moo_mark entry_point_mark;
	char *output_folder; /* "training_result" by default */

	struct {
		enum moo_accel accelerator;
		unsigned count;  /* GPUs or NPUs */
		double cpus;     /* 0 when not given */
		uint64_t memory; /* bytes; 0 when not given */
	} resources;

	char *inference_entry_point;
	struct moo_mark inference_entry_point_mark;

	struct moo_kv *env;
	size_t n_env;

	struct moo_error *warnings; /* problems that do not make the spec invalid */
};

/* Limits on the YAML itself; hostile documents fail fast within them. */
#define MOO_SPEC_MAX_BYTES   (1u << 20)
#define MOO_SPEC_MAX_DEPTH   64
#define MOO_SPEC_MAX_ALIASES 64
#define MOO_SPEC_MAX_NODES   10000

/*
 * Parse and validate a spec held in memory; name is used in diagnostics. On success
 * *out is the caller's (moo_spec_free). On failure *err, if err is not NULL, holds
 * every problem found (errors and warnings), the first being an error.
 */
MOO_EXTERN int moo_spec_parse(struct moo_spec **out, const char *data, size_t len, const char *name,
			      struct moo_error **err);

/* The same for a file: a metadata.yaml, or a directory holding one. */
MOO_EXTERN int moo_spec_load(struct moo_spec **out, const char *path, struct moo_error **err);

/* moo_spec_load, and when the spec has errors the files it names in dir are checked too
 * (moo_spec_check_tree's errors), so that every problem is reported at once. */
MOO_EXTERN int moo_spec_load_tree(struct moo_spec **out, const char *path, const char *dir,
				  struct moo_error **err);

/*
 * Checks the spec against the project tree it describes: entry points exist as regular
 * files inside dir. Reports every problem.
 */
MOO_EXTERN int moo_spec_check_tree(const struct moo_spec *spec, const char *dir,
				   struct moo_error **err);

/* Appends the spec as a JSON object (the shape of metadata.schema.json, defaults filled). */
MOO_EXTERN void moo_spec_to_json(struct moo_buf *out, const struct moo_spec *spec);

/* "cpu", "gpu" or "npu". */
MOO_EXTERN const char *moo_accel_name(enum moo_accel a);

MOO_EXTERN void moo_spec_free(struct moo_spec *spec);
#endif
