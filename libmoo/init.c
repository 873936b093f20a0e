/* init: scaffold a project from a built-in template, never overwriting a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "embedded.h"

const char *const *moo_init_templates(void)
{
	static const char *names[16];
	static size_t n;
	const struct moo__embedded *e;

	if (n) {
		return names;
	}
	for (e = moo__embedded_files; e->name && n + 1 < MOO_ARRAY_SIZE(names); e++) {
		size_t len = strcspn(e->name, "/");
		static char store[16][32];

		if (len >= sizeof(store[0]) ||
		    (n && !strncmp(names[n - 1], e->name, len) && names[n - 1][len] == '\0')) {
			continue;
		}
		memcpy(store[n], e->name, len);
		store[n][len] = '\0';
		names[n] = store[n];
		n++;
	}
	names[n] = NULL;
	return names;
}

static int write_new(const char *path, const unsigned char *data, size_t size, bool *created,
		     struct moo_error **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0) {
		if (errno == EEXIST) {
			*created = false;
			return 0;
		}
		return moo__fail_errno(err, MOO_EIO, "cannot create '%s'", path);
	}
	while (size) {
		ssize_t w = write(fd, data, size);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			int r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", path);

			close(fd);
			unlink(path);
			return r;
		}
		data += w;
		size -= (size_t)w;
	}
	if (close(fd) < 0) {
		unlink(path);
		return moo__fail_errno(err, MOO_EIO, "cannot write '%s'", path);
	}
	*created = true;
	return 0;
}

int moo_init_project(const char *dir, const char *template_name, moo_init_cb cb, void *data,
		     struct moo_error **err)
{
	const struct moo__embedded *e;
	size_t len = strlen(template_name);
	bool found = false;
	int r = 0;

	for (e = moo__embedded_files; e->name; e++) {
		if (!strncmp(e->name, template_name, len) && e->name[len] == '/') {
			found = true;
		}
	}
	if (!found) {
		const char *const *names = moo_init_templates();
		struct moo_buf list = MOO_BUF_INIT;
		struct moo_error *x;
		size_t n;

		for (n = 0; names[n]; n++) {
			moo_buf_printf(&list, "%s%s", n ? ", " : "", names[n]);
		}
		x = moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR, "no template named '%s'",
				   template_name);
		if (moo__suggest(template_name, names, n)) {
			moo__error_hint(x, "did you mean '%s'?",
					moo__suggest(template_name, names, n));
		} else {
			moo__error_hint(x, "choose one of %s", list.ptr);
		}
		moo_buf_dispose(&list);
		return MOO_ENOTFOUND;
	}
	/* a name the template writes that is there but no file (a folder, a dangling link)
	 * would be "kept", and the project broken: refused before anything is written */
	for (e = moo__embedded_files; e->name; e++) {
		const char *rel = e->name + len + 1;
		struct stat lst, st;
		char *path;

		if (strncmp(e->name, template_name, len) || e->name[len] != '/') {
			continue;
		}
		path = moo__path_join(dir, rel);
		if (lstat(path, &lst) == 0 && (stat(path, &st) < 0 || !S_ISREG(st.st_mode))) {
			const char *what = S_ISLNK(lst.st_mode) && stat(path, &st) < 0
						   ? "a link to nothing"
					   : S_ISDIR(st.st_mode) ? "a folder"
								 : "not a regular file";
			struct moo_error *x =
				moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
					       "'%s' is in the way: it is %s", path, what);

			moo__error_hint(x, "move it out of the way and run 'moo init' again");
			r = MOO_EIO;
		}
		free(path);
	}
	if (r) {
		return r;
	}
	r = moo__mkdir_p(dir, 0755, err);
	if (r) {
		return r;
	}
	for (e = moo__embedded_files; e->name; e++) {
		const char *rel = e->name + len + 1;
		char *path;
		bool created = false;

		if (strncmp(e->name, template_name, len) || e->name[len] != '/') {
			continue;
		}
		path = moo__path_join(dir, rel);
		r = write_new(path, e->data, e->size, &created, err);
		free(path);
		if (r) {
			return r;
		}
		if (cb) {
			cb(rel, created, data);
		}
	}
	return 0;
}
