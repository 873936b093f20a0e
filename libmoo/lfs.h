/*
 * lfs.h: Git LFS for moo publish (lfs.c). Internal.
 *
 * libgit2 has no LFS: moo writes the pointer files itself and moves the objects through the
 * LFS batch API ("basic" transfer), or, for a repository on this machine, into its
 * lfs/objects folder as git-lfs's standalone file transfer reads them.
 */
#ifndef MOO_LFS_H
#define MOO_LFS_H
#include "internal.h"

struct moo__lfs_object {
	const char *name; /* the file, for messages */
	const char *oid;  /* 64 hex digits */
	uint64_t size;
	const char *src; /* the content: a file, or NULL and data/len */
	const void *data;
	size_t len;
};

/* The pointer file of an object, byte for byte what `git lfs pointer --file=F` prints. */
void moo__lfs_pointer(struct moo_buf *out, const char *oid, uint64_t size);

/* True when data is a pointer file; oid and size get its object. */
bool moo__lfs_pointer_parse(const void *data, size_t len, char oid[MOO__SHA256_HEX],
			    uint64_t *size);

/*
 * Uploads the objects the server lacks through the batch API at api (".../info/lfs"):
 * POST objects/batch, PUT each object to its href with its headers, then POST verify when
 * asked. user/pass (both or neither) go to the API and to hrefs on its origin that bring no
 * Authorization header of their own. *sent counts PUTs. The API's 401 is MOO_EHOST with
 * *unauthorized set; any refusal is MOO_ENET naming the file.
 */
int moo__lfs_upload(const char *api, const char *ref, const char *user, const char *pass,
		    const struct moo__lfs_object *v, size_t n, size_t *sent, bool *unauthorized,
		    struct moo_error **err);

/* Downloads one object into dest (checked against oid and size), as moo__lfs_upload. */
int moo__lfs_download(const char *api, const char *user, const char *pass, const char *name,
		      const char *oid, uint64_t size, const char *dest, bool *unauthorized,
		      struct moo_error **err);

/* A repository on this machine: its objects in gitdir/lfs/objects/OI/D_/OID. */
int moo__lfs_store_local(const char *gitdir, const struct moo__lfs_object *v, size_t n,
			 size_t *sent, struct moo_error **err);
char *moo__lfs_local_path(const char *gitdir, const char *oid);

/* scheme://host[:port] of an http(s) URL, without its user; NULL for other URLs. */
char *moo__lfs_origin(const char *url);
#endif
