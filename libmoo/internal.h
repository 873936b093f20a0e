/* Internal to libmoo: cross-file helpers (moo__*), never installed. */
#ifndef MOO_INTERNAL_H
#define MOO_INTERNAL_H
#include <stdarg.h>
#include "moo.h"
#include "banned.h"

#define MOO_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts on failure (see moo/common.h). */
void *moo__malloc(size_t n);
void *moo__calloc(size_t n, size_t size);
void *moo__realloc(void *p, size_t n);
char *moo__strdup(const char *s);
char *moo__strndup(const char *s, size_t n);
char *moo__printf(const char *fmt, ...) MOO_PRINTF(1, 2);
#define MOO_GROW(arr, n) ((arr) = moo__realloc((arr), ((n) + 1) * sizeof(*(arr))))

/*
 * Appends a new error to the chain *err (when err is not NULL) and returns it, or
 * NULL when err is NULL. The location and hint may be set afterwards.
 */
struct moo_error *moo__error_add(struct moo_error **err, int code, enum moo_severity sev,
				 const char *fmt, ...) MOO_PRINTF(4, 5);
struct moo_error *moo__error_vadd(struct moo_error **err, int code, enum moo_severity sev,
				  const char *fmt, va_list ap) MOO_PRINTF(4, 0);
void moo__error_at(struct moo_error *e, const char *file, int line, int column);
void moo__error_hint(struct moo_error *e, const char *fmt, ...) MOO_PRINTF(2, 3);
void moo__error_cause(struct moo_error *e, const char *cause);

/* Moves the chain more to the end of *err (or frees it when err is NULL). */
void moo__error_append(struct moo_error **err, struct moo_error *more);

/* Adds an error and returns code: for `return moo__fail(err, MOO_EIO, "…");`. */
int moo__fail(struct moo_error **err, int code, const char *fmt, ...) MOO_PRINTF(3, 4);
/*
 * The version field of an options struct the caller filled (type: "moo_run_opts"): 1 to
 * known is accepted, any other refused with MOO_EARG, an error that names the struct, the
 * version and what this libmoo knows, and a hint. MOO__OPTS_VERSION: for a NULL-able opts.
 */
int moo__opts_version(unsigned version, unsigned known, const char *type, struct moo_error **err);
#define MOO__OPTS_VERSION(o, known, type, err) \
	((o) ? moo__opts_version((o)->version, (known), (type), (err)) : 0)
/* Adds an error whose cause is strerror(errno) and returns code. */
int moo__fail_errno(struct moo_error **err, int code, const char *fmt, ...) MOO_PRINTF(3, 4);
/* True once the flag of moo_set_interrupt_flag is set: stop, clean up, MOO_EINTR. */
bool moo__interrupted(void);
/* This thread alone reads as interrupted (on) or not (off): a client that went away. */
void moo__set_thread_interrupted(bool on);
/*
 * Held (on), moo__interrupted is false in this thread until released (off; calls nest):
 * for a step that must be seen to its end, as a job's start. The signal is not lost: it
 * reads as set again once released (moo(1)'s 5 s grace still ends moo).
 */
void moo__hold_interrupts(bool on);
/* Hands a warning to the callback of moo_set_warning_cb (or drops it). */
void moo__warn(int code, const char *fmt, ...) MOO_PRINTF(2, 3);
/* the same, with a hint (what to do about it); false where no one listens (no callback) */
bool moo__warn_hint(int code, const char *hint, const char *fmt, ...) MOO_PRINTF(3, 4);
/* The first error (not warning) of a chain's code, or 0. */
int moo__error_code(const struct moo_error *err);
/* Whether an error of the chain is this machine's disk or quota being full (its cause
 * ENOSPC's or EDQUOT's words): what "make room" helps. */
bool moo__error_no_room(const struct moo_error *err);

/* Reads a whole file of at most max bytes into out. */
int moo__read_file(const char *path, size_t max, struct moo_buf *out, struct moo_error **err);
/*
 * Writes data to path atomically (temporary file, rename): readers see the old file or the
 * new one, never a part. durable: fsync before the rename, so it also survives a power cut
 * (each fsync costs milliseconds: only for files a user cannot recreate, like config.yaml).
 */
/* Writes all len bytes to fd (again after EINTR); -1 with errno when it cannot. */
int moo__write_all(int fd, const void *data, size_t len);
int moo__write_file_atomic(const char *path, const void *data, size_t len, int mode, bool durable,
			   struct moo_error **err);
/* mkdir -p. */
int moo__mkdir_p(const char *path, int mode, struct moo_error **err);
/* a/b joined with exactly one slash. Caller frees. */
char *moo__path_join(const char *a, const char *b);
/*
 * True when rel is a relative path that stays inside its base: not empty, no leading
 * '/', no backslash, no "." or ".." component, no empty component, no control character.
 */
bool moo__path_is_safe_relative(const char *rel);
/* Whether n bytes at p are all zero (a run to leave as a hole). */
bool moo__all_zero(const void *p, size_t n);
/*
 * Copies regular files and folders (nothing else) from src to dst: streamed, each file
 * under a temporary name until complete, runs of zeros left as holes.
 */
int moo__copy_tree(const char *src, const char *dst, struct moo_error **err);

/* util/dl.c: a library loaded on first use (curl.h and sshlib.h say why). Each slot gets
 * its symbol; NULL when all were found, else why not (to free; slots may be half filled). */
struct moo__dl_sym {
	const char *name;
	void **slot;
};
char *moo__dl_load(const char *soname, const struct moo__dl_sym *syms, size_t n);
/* The error for a library that did not load (why: moo__dl_load's answer): MOO_EIO. */
int moo__dl_fail(struct moo_error **err, const char *lib, const char *why, const char *package);

/* util/hash.c: SHA-256 (Nettle) and hex. Hex digests are 64 digits and a NUL. */
#define MOO__SHA256_HEX 65
struct moo__sha256;
struct moo__sha256 *moo__sha256_new(void);
void moo__sha256_update(struct moo__sha256 *h, const void *data, size_t len);
void moo__sha256_final(struct moo__sha256 *h, char hex[MOO__SHA256_HEX]);
void moo__sha256_free(struct moo__sha256 *h); /* NULL-safe */
void moo__sha256_buf(const void *data, size_t len, char hex[MOO__SHA256_HEX]);
/* Hashes a whole file; *size, when not NULL, gets its length. */
int moo__sha256_file(const char *path, char hex[MOO__SHA256_HEX], uint64_t *size,
		     struct moo_error **err);
/* out gets 2 * len lowercase hex digits and a NUL. */
void moo__hex(const void *data, size_t len, char *out);
/* len random bytes from the kernel (getrandom); aborts when there are none. */
void moo__random(void *buf, size_t len);
/* 16 random lowercase hex digits and a NUL. */
void moo__random_hex(char out[17]);
/* PREFIX and 6 random lowercase letters and digits: "moo-job-hqx9uo" (MOO's job ids). */
char *moo__random_id(const char *prefix);
/* True when s is exactly 64 lowercase hex digits. */
bool moo__is_sha256_hex(const char *s);

/* Removes path and everything under it, never following symbolic links. */
int moo__rm_rf(const char *path);
/*
 * Every regular file under dir, folders descended, symbolic links and the like left out (as
 * a manifest leaves them): cb gets its path, its path relative to dir and its lstat; a
 * non-zero return stops the walk and is returned. The strings are the walker's.
 */
struct stat;
typedef int (*moo__file_cb)(const char *path, const char *rel, const struct stat *st, void *data,
			    struct moo_error **err);
int moo__walk_files(const char *dir, moo__file_cb cb, void *data, struct moo_error **err);
/*
 * supervise.c: starts the supervisor of the job folder dir on this machine, in C (forked,
 * detached; supervisor.sh's contract), running command (plain words) with its output
 * appended to log. 0: started, *pid is its pid (the caller's child until the caller
 * exits); 1: command is not made of plain words, supervisor.sh must run it; < 0: error.
 */
/*
 * pack.c: moo_pack, and what it packed: every entry in the ZIP's order, with the CRC-32 of
 * the bytes it read (so that a bundle packed from a folder can be staged from the folder,
 * its files checked against what went into the ZIP). *packed NULL on failure.
 */
struct moo__packed {
	struct {
		char *rel; /* as in the ZIP: folders end in '/' */
		uint64_t size;
		uint32_t crc;
		bool dir, exec;
	} * v;
	size_t n;
};
struct moo_pack_opts;
struct moo_pack_result;
int moo__pack(struct moo_pack_result *result, struct moo__packed **packed, const char *dir,
	      const char *out_zip, const struct moo_pack_opts *opts, struct moo_error **err);
void moo__packed_free(struct moo__packed *p); /* NULL-safe */
int moo__supervise_start(const char *dir, const char *out, const char *command, const char *log,
			 pid_t *pid, struct moo_error **err);
/*
 * "PID.NS": this process as the maker of a temporary name — its pid and the inode number of
 * its pid namespace, so that a moo in another namespace sharing the folder (a container, an
 * 'unshare --pid') never takes a live maker for a dead one.
 */
void moo__owner_tag(char *out, size_t len);
/*
 * Whether the maker named at s ("PID.NS-…", or the older "PID-…") is provably gone: a pid
 * of this pid namespace that no process holds. One of another namespace is never gone.
 */
bool moo__owner_gone(const char *s);
/*
 * Removes what a killed moo left in dir: each entry named prefix + moo__owner_tag + '-' +
 * anything, owned by this user, whose maker is gone (moo__owner_gone).
 */
void moo__sweep_dead(const char *dir, const char *prefix);
/*
 * The folder of a project named by its metadata.yaml ("p/metadata.yaml" is "p"), so that
 * every verb takes either, as moo validate does; NULL when path names no such file.
 */
char *moo__spec_folder(const char *path);
/*
 * moo__sweep_dead of $TMPDIR (else /tmp): the moo-bundle-, moo-serve-, moo-model- and
 * moo-publish- PID.NS-* folders of killed moos.
 */
void moo__sweep_tmp(void);
/*
 * A new folder $TMPDIR/PREFIX + moo__owner_tag + '-' + random (prefix one moo__sweep_tmp
 * sweeps: "moo-serve-"), after a moo__sweep_tmp; malloc'd, or NULL with *err set.
 */
char *moo__tmp_dir(const char *prefix, struct moo_error **err);

/* pack.c: .mooignore (gitignore syntax: '#', '!', trailing '/', anchored '/', *, ?, [], **). */
struct moo__ignore;
struct moo__ignore *moo__ignore_parse(const char *text, size_t len);
/* rel is relative to the project, without a trailing '/'. */
bool moo__ignore_match(const struct moo__ignore *ig, const char *rel, bool is_dir);
void moo__ignore_free(struct moo__ignore *ig);
/* Sweeps in the store (sweep.c): points and opts are JSON text. */
int moo__store_sweep_put(struct moo_store *st, const char *id, const char *source,
			 const char *points, const char *opts, const char *status,
			 struct moo_error **err);
/* MOO_ENOTFOUND, with no error added, when there is no such sweep. */
int moo__store_sweep_get(struct moo_store *st, const char *id, char **source, char **points,
			 char **opts, char **status, struct moo_error **err);
/* Forgets a sweep (its jobs are not touched). */
int moo__store_sweep_remove(struct moo_store *st, const char *id, struct moo_error **err);
/* util/suggest.c */
/*
 * The candidate nearest to word by edit distance, or NULL when none is close
 * enough to be a likely typo (distance at most 2, and less than half of word).
 */
const char *moo__suggest(const char *word, const char *const *candidates, size_t n);

/* Levenshtein distance between a and b. */
size_t moo__edit_distance(const char *a, const char *b);
/* store.c: cached positive runtime probes (see runtime.c): key → value, younger than max_age s. */
int moo__store_cache_get(struct moo_store *st, const char *key, double max_age,
			 struct moo_buf *value, struct moo_error **err);
int moo__store_cache_put(struct moo_store *st, const char *key, const char *value,
			 struct moo_error **err);

/* probe.c: appends the probe script moo runs on a host (POSIX sh; $1 is the moo root or empty). */
void moo__host_probe_script(struct moo_buf *out);

/* Helpers only libmoo calls, exported before 1.0 (#11) and internal since. */
/* transport_local.c: appends this machine's job root ($MOO_ROOT, else $HOME/.moo) to out. */
int moo__job_root(struct moo_buf *out, struct moo_error **err);
/* resolve.c:
 * pins plan->image: asks its registry (or mirror) over the OCI distribution API for the
 * manifest, computes its sha256 from the bytes received, and for an index picks the
 * host's platform (plan->platform). Sets digest, platform_digest and archs. MOO_ENET
 * when the registry cannot be reached or answers wrongly (a digest header that does not
 * match the bytes), MOO_ERESOLVE when the image has no manifest for the host's platform
 * or does not exist.
 */
int moo__plan_pin(struct moo_plan *plan, const struct moo_images *t, struct moo_error **err);
/* lock.c: a deep copy of plan (through its lock text). Caller frees. */
struct moo_plan *moo__plan_dup(const struct moo_plan *plan);
/* publish.c:
 * materializes a published model, "REPO@TAG" (the last '@' splits), into dest (which must
 * not exist): the model folder the tag's commit holds, found by its moo.lock (the only
 * model folder of the commit's change, else the one named in the tag's message). lock,
 * when not NULL, gets the folder's moo.lock text. accept_new_host_key as for moo_publish.
 * Git LFS pointers that the commit's .gitattributes route to LFS are replaced by their
 * objects (batch download, or the repository's own lfs/objects), checked by sha256.
 */
int moo__publish_checkout(struct moo_buf *lock, const char *ref, const char *dest,
			  bool accept_new_host_key, struct moo_error **err);
/* publish.c:
 * the moo.lock and params.json (empty when the folder has none) of a published model,
 * "REPO@TAG", read through a temporary checkout (moo reproduce REPO@TAG).
 */
int moo__publish_read(struct moo_buf *lock, struct moo_buf *params, const char *ref,
		      struct moo_error **err);
/* store.c: records a publication (moo_publish). */
int moo__store_add_publication(struct moo_store *st, const struct moo_publication *p,
			       struct moo_error **err);
/* store.c: appends the path the store is at by default (moo/store.h: $MOO_HOME/moo.db, else
 * $XDG_DATA_HOME/moo/moo.db) to out. */
int moo__store_default_path(struct moo_buf *out, struct moo_error **err);
/*
 * Checks that dir, this machine's copy of a job's result, is what the job made: every file
 * of its MANIFEST.sha256 (read on the job's host) there with the same bytes, and no regular
 * file the manifest does not name. MOO_EIO naming the first file that differs, with hint
 * as its hint (job.c).
 */
int moo__job_verify_result(const struct moo_job *job, const char *dir, const char *hint,
			   struct moo_error **err);
/*
 * serve.c: moo_serve_model_from_job; verify false for a model that is no job's result folder
 * (a published model's checkout, which has no MANIFEST.sha256: moo_publish_serve_model).
 */
int moo__serve_model_from_job(struct moo_serve_model **out, const struct moo_job *job, bool verify,
			      struct moo_error **err);
#endif
