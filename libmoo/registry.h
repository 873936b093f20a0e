/* registry: an OCI distribution API client over libcurl (registry.c). Internal. */
#ifndef MOO_REGISTRY_H
#define MOO_REGISTRY_H
#include "internal.h"

/* A registry's settings from config.yaml's 'registries:' (read by images.c). */
struct moo__registry_conf {
	const char *mirror; /* host[:port][/prefix] to fetch from instead, or NULL */
	bool insecure;      /* plain HTTP */
};

/* One entry of 'registries:', and the whole list: handed to this file as a value. */
struct moo__registry {
	char *name; /* "docker.io", "127.0.0.1:5000" */
	char *mirror;
	bool insecure;
};
struct moo__registries {
	const struct moo__registry *v;
	size_t n;
};

/* config.yaml's 'registries:' as images.c read them into an image table. */
struct moo__registries moo__images_registries(const struct moo_images *t);

/* The settings for registry name in regs (NULL: none); zeroes when none. */
void moo__registry_conf(const struct moo__registries *regs, const char *name,
			struct moo__registry_conf *out);

/* An image reference split: registry "docker.io", repository "library/python", tag, digest. */
struct moo__imageref {
	char *registry;
	char *repository;
	char *tag;    /* or NULL */
	char *digest; /* "sha256:…" or NULL */
};

/* Parses [registry/]repository[:tag][@digest] the way docker does. MOO_EARG when invalid. */
int moo__imageref_parse(struct moo__imageref *out, const char *ref, struct moo_error **err);
void moo__imageref_dispose(struct moo__imageref *r);

struct moo__pinned {
	char *digest;          /* of what the reference names */
	char *media_type;      /* its media type */
	char *platform_digest; /* the manifest for the platform */
	char **platforms;      /* "linux/amd64", … */
	size_t n_platforms;
};

/*
 * Pins ref (after the mirror of its registry) for platform ("linux/amd64[/variant]").
 * The digest is the sha256 of the bytes received; a Docker-Content-Digest header that
 * disagrees is refused.
 */
int moo__registry_pin(struct moo__pinned *out, const struct moo__registries *regs, const char *ref,
		      const char *platform, struct moo_error **err);
void moo__pinned_dispose(struct moo__pinned *p);

/* The reference with its registry replaced by the configured mirror, or a copy of ref. */
char *moo__registry_pull_ref(const struct moo__registries *regs, const char *ref);
#endif
