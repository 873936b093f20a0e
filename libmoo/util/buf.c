#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../internal.h"

static void grow(struct moo_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need < b->len) {
		abort(); /* overflow */
	}
	if (need <= b->cap) {
		return;
	}
	b->cap = b->cap ? b->cap : 64;
	while (b->cap < need) {
		b->cap *= 2;
	}
	b->ptr = moo__realloc(b->ptr, b->cap);
}

void moo_buf_add(struct moo_buf *b, const void *data, size_t len)
{
	grow(b, len);
	if (len) {
		memcpy(b->ptr + b->len, data, len);
	}
	b->len += len;
	b->ptr[b->len] = '\0';
}

void moo_buf_puts(struct moo_buf *b, const char *s)
{
	moo_buf_add(b, s, strlen(s));
}

void moo_buf_putc(struct moo_buf *b, char c)
{
	moo_buf_add(b, &c, 1);
}

void moo_buf_vprintf(struct moo_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	grow(b, 64);
	n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		abort();
	}
	if ((size_t)n >= b->cap - b->len) {
		grow(b, (size_t)n);
		n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void moo_buf_printf(struct moo_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void moo_buf_shquote(struct moo_buf *b, const char *s)
{
	/* 'it'\''s': single quotes protect everything but the single quote itself. */
	moo_buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'') {
			moo_buf_puts(b, "'\\''");
		} else {
			moo_buf_putc(b, *s);
		}
	}
	moo_buf_putc(b, '\'');
}

void moo_buf_reset(struct moo_buf *b)
{
	b->len = 0;
	if (b->ptr) {
		b->ptr[0] = '\0';
	}
}

char *moo_buf_detach(struct moo_buf *b)
{
	char *s = b->ptr ? b->ptr : moo__strdup("");

	b->ptr = NULL;
	b->len = b->cap = 0;
	return s;
}

void moo_buf_dispose(struct moo_buf *b)
{
	if (!b) {
		return;
	}
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

char *moo__printf(const char *fmt, ...)
{
	struct moo_buf b = MOO_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return moo_buf_detach(&b);
}
