#ifndef MOO_BUF_H
#define MOO_BUF_H
#include <stdarg.h>
#include "moo/common.h"

/* A growable, always NUL-terminated byte string. Strings leave libmoo in one. */
struct moo_buf {
	char *ptr; /* never NULL once anything was added; "" when empty */
	size_t len;
	size_t cap;
};
#define MOO_BUF_INIT       \
	{                  \
		NULL, 0, 0 \
	}

MOO_EXTERN void moo_buf_add(struct moo_buf *b, const void *data, size_t len);
MOO_EXTERN void moo_buf_puts(struct moo_buf *b, const char *s);
MOO_EXTERN void moo_buf_putc(struct moo_buf *b, char c);
MOO_EXTERN void moo_buf_printf(struct moo_buf *b, const char *fmt, ...) MOO_PRINTF(2, 3);
MOO_EXTERN void moo_buf_vprintf(struct moo_buf *b, const char *fmt, va_list ap) MOO_PRINTF(2, 0);
/* Appends s quoted for POSIX sh: the one function every remote command line uses. */
MOO_EXTERN void moo_buf_shquote(struct moo_buf *b, const char *s);
MOO_EXTERN void moo_buf_reset(struct moo_buf *b);
/* Returns the string, now the caller's (free()); the buffer is left empty. */
MOO_EXTERN char *moo_buf_detach(struct moo_buf *b);
MOO_EXTERN void moo_buf_dispose(struct moo_buf *b);
#endif
