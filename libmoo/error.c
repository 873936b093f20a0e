#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static const volatile sig_atomic_t *interrupt_flag;

void moo_set_interrupt_flag(const volatile sig_atomic_t *flag)
{
	interrupt_flag = flag;
}

/* this thread's work was abandoned by whoever asked for it (transport_mux.c's master) */
static __thread bool thread_interrupted;

void moo__set_thread_interrupted(bool on)
{
	thread_interrupted = on;
}

static __thread int interrupts_held;

void moo__hold_interrupts(bool on)
{
	interrupts_held += on ? 1 : -1;
}

bool moo__interrupted(void)
{
	return !interrupts_held && (thread_interrupted || (interrupt_flag && *interrupt_flag));
}

static moo_warning_cb warning_cb;
static void *warning_data;

void moo_set_warning_cb(moo_warning_cb cb, void *cb_data)
{
	warning_cb = cb;
	warning_data = cb_data;
}

static bool vwarn(int code, const char *hint, const char *fmt, va_list ap) MOO_PRINTF(3, 0);

static bool vwarn(int code, const char *hint, const char *fmt, va_list ap)
{
	struct moo_error *e = NULL;

	if (!warning_cb) {
		return false;
	}
	moo__error_vadd(&e, code, MOO_SEV_WARNING, fmt, ap);
	if (hint) {
		moo__error_hint(e, "%s", hint);
	}
	warning_cb(e, warning_data);
	moo_error_free(e);
	return true;
}

void moo__warn(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(code, NULL, fmt, ap);
	va_end(ap);
}

bool moo__warn_hint(int code, const char *hint, const char *fmt, ...)
{
	va_list ap;
	bool told;

	va_start(ap, fmt);
	told = vwarn(code, hint, fmt, ap);
	va_end(ap);
	return told;
}

void moo_error_free(struct moo_error *err)
{
	while (err) {
		struct moo_error *next = err->next;
		free(err->message);
		free(err->hint);
		free(err->file);
		free(err->cause);
		free(err);
		err = next;
	}
}

const char *moo_code_name(int code)
{
	switch (code) {
	case MOO_OK: return "ok";
	case MOO_EIO: return "io";
	case MOO_EARG: return "usage";
	case MOO_ESPEC: return "spec";
	case MOO_EBUNDLE: return "bundle";
	case MOO_ENET: return "network";
	case MOO_EHOST: return "host";
	case MOO_ERESOLVE: return "resolve";
	case MOO_EJOB: return "job";
	case MOO_ENOTFOUND: return "not-found";
	case MOO_EEXIST: return "exists";
	case MOO_ESTORE: return "store";
	case MOO_EINTR: return "interrupted";
	}
	return "unknown";
}

struct moo_error *moo__error_vadd(struct moo_error **err, int code, enum moo_severity sev,
				  const char *fmt, va_list ap)
{
	struct moo_error *e, **tail;
	struct moo_buf b = MOO_BUF_INIT;

	if (!err) {
		return NULL;
	}
	e = moo__calloc(1, sizeof(*e));
	e->code = code;
	e->severity = sev;
	moo_buf_vprintf(&b, fmt, ap);
	e->message = moo_buf_detach(&b);
	for (tail = err; *tail; tail = &(*tail)->next) {
	}
	*tail = e;
	return e;
}

struct moo_error *moo__error_add(struct moo_error **err, int code, enum moo_severity sev,
				 const char *fmt, ...)
{
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(err, code, sev, fmt, ap);
	va_end(ap);
	return e;
}

void moo__error_at(struct moo_error *e, const char *file, int line, int column)
{
	if (!e) {
		return;
	}
	free(e->file);
	e->file = file ? moo__strdup(file) : NULL;
	e->line = line;
	e->column = column;
}

void moo__error_hint(struct moo_error *e, const char *fmt, ...)
{
	struct moo_buf b = MOO_BUF_INIT;
	va_list ap;

	if (!e) {
		return;
	}
	va_start(ap, fmt);
	moo_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(e->hint);
	e->hint = moo_buf_detach(&b);
}

void moo__error_cause(struct moo_error *e, const char *cause)
{
	if (!e) {
		return;
	}
	free(e->cause);
	e->cause = NULL;
	if (cause) {
		size_t n = strlen(cause);

		/* a library's message may end in a line break (libarchive's do) */
		while (n && (cause[n - 1] == '\n' || cause[n - 1] == '\r' || cause[n - 1] == ' ')) {
			n--;
		}
		e->cause = moo__strndup(cause, n);
	}
}

int moo__fail(struct moo_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	moo__error_vadd(err, code, MOO_SEV_ERROR, fmt, ap);
	va_end(ap);
	return code;
}

int moo__opts_version(unsigned version, unsigned known, const char *type, struct moo_error **err)
{
	struct moo_error *e;
	char init[64];
	size_t i;

	if (version >= 1 && version <= known) {
		return 0;
	}
	e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
			   "struct %s has version %u; this libmoo (%s) knows versions 1 to %u",
			   type, version, moo_version(), known);
	for (i = 0; type[i] && i + 1 < sizeof(init); i++) { /* moo_run_opts: MOO_RUN_OPTS_INIT */
		init[i] = (char)(type[i] >= 'a' && type[i] <= 'z' ? type[i] - 'a' + 'A' : type[i]);
	}
	init[i] = '\0';
	moo__error_hint(e,
			"set it with %s_INIT and build against the headers of the libmoo it runs "
			"with",
			init);
	return MOO_EARG;
}

int moo__fail_errno(struct moo_error **err, int code, const char *fmt, ...)
{
	int saved = errno;
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(err, code, MOO_SEV_ERROR, fmt, ap);
	va_end(ap);
	moo__error_cause(e, strerror(saved));
	errno = saved;
	return code;
}

int moo__error_code(const struct moo_error *err)
{
	for (; err; err = err->next) {
		if (err->severity == MOO_SEV_ERROR) {
			return err->code;
		}
	}
	return 0;
}

bool moo__error_no_room(const struct moo_error *err)
{
	for (; err; err = err->next) {
		if (err->cause && (!strcmp(err->cause, strerror(ENOSPC)) ||
				   !strcmp(err->cause, strerror(EDQUOT)))) {
			return true;
		}
	}
	return false;
}

void moo__error_append(struct moo_error **err, struct moo_error *more)
{
	struct moo_error **tail;

	if (!err) {
		moo_error_free(more);
		return;
	}
	for (tail = err; *tail; tail = &(*tail)->next) {
	}
	*tail = more;
}
