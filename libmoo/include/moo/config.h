#ifndef MOO_CONFIG_H
#define MOO_CONFIG_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"

/*
 * moo's own configuration, $XDG_CONFIG_HOME/moo/config.yaml (else ~/.config/moo/config.yaml):
 * the inventory of hosts, and the image table's 'images:' and 'registries:' (moo-config(5);
 * read by moo_images_load, checked here too).
 */
struct moo_host_entry {
	char *name;        /* what moo's commands call the host */
	char *address;     /* host name or IP address */
	char *user;        /* or NULL: ~/.ssh/config's, else the local user */
	unsigned port;     /* 0: ~/.ssh/config's, else 22 */
	char *key;         /* private key file, or NULL: ssh-agent and the default keys */
	char *known_hosts; /* or NULL: ~/.ssh/known_hosts */
	char *root;        /* MOO_ROOT on that host, or NULL: $MOO_ROOT there, else ~/.moo */
	char *runtime;     /* docker, podman, apptainer, singularity or host; or NULL */
	int line;          /* where the entry starts in config.yaml; 0 when not from the file */
};

struct moo_config {
	char *path; /* the file it was read from and is saved to */
	struct moo_host_entry *hosts;
	size_t n_hosts;
	/* The other top-level sections ('images:', 'registries:', 'x-…'; see moo_images_load)
	 * as written, which moo_config_save writes back unchanged; NULL when none. */
	char *kept;
	bool kept_flow; /* they were in flow style ({…}), which moo_config_save cannot keep */
	bool aliased;   /* the file used anchors or aliases, which moo_config_save cannot keep */
	/* 'slurm:' defaults for jobs on "slurm:" hosts (kept with the other sections):
	 * partition, time, gres, account, qos, constraint; NULL when not given */
	char *slurm[6];
};
/* The names of moo_config.slurm's entries, in order. */
#define MOO_CONFIG_SLURM_KEYS                                               \
	{                                                                   \
		"partition", "time", "gres", "account", "qos", "constraint" \
	}

/* Limits on config.yaml. */
#define MOO_CONFIG_MAX_BYTES (1u << 20)
#define MOO_CONFIG_MAX_HOSTS 1000

/* Appends the path of config.yaml: $XDG_CONFIG_HOME/moo/config.yaml, else under ~/.config. */
MOO_EXTERN int moo_config_path(struct moo_buf *out, struct moo_error **err);

/*
 * Reads config.yaml (path NULL: moo_config_path). A missing file is an empty
 * configuration. On failure *err names config.yaml:line:col for every problem found.
 */
MOO_EXTERN int moo_config_load(struct moo_config **out, const char *path, struct moo_error **err);

/* Parses a config.yaml held in memory; name is used in diagnostics and as its path. */
MOO_EXTERN int moo_config_parse(struct moo_config **out, const char *data, size_t len,
				const char *name, struct moo_error **err);

/* Writes the configuration back to its path atomically (creating the folder). */
MOO_EXTERN int moo_config_save(const struct moo_config *cfg, struct moo_error **err);

/* Appends the configuration as YAML, the form moo_config_save writes. */
MOO_EXTERN void moo_config_to_yaml(struct moo_buf *out, const struct moo_config *cfg);

/* The entry named name (borrowed), or NULL. */
MOO_EXTERN const struct moo_host_entry *moo_config_host(const struct moo_config *cfg,
							const char *name);

/*
 * Adds a copy of h. MOO_EEXIST when the name is taken, MOO_EARG when a value is invalid
 * (the same rules as the file's).
 */
MOO_EXTERN int moo_config_add_host(struct moo_config *cfg, const struct moo_host_entry *h,
				   struct moo_error **err);

/* Removes the entry named name; MOO_ENOTFOUND when there is none. */
MOO_EXTERN int moo_config_remove_host(struct moo_config *cfg, const char *name,
				      struct moo_error **err);

MOO_EXTERN void moo_config_free(struct moo_config *cfg);
#endif
