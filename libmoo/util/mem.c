#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../internal.h"

static void *check(void *p)
{
	if (!p) {
		fputs("libmoo: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *moo__malloc(size_t n)
{
	return check(malloc(n ? n : 1));
}

void *moo__calloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1));
}

void *moo__realloc(void *p, size_t n)
{
	return check(realloc(p, n ? n : 1));
}

char *moo__strdup(const char *s)
{
	return check(strdup(s));
}

char *moo__strndup(const char *s, size_t n)
{
	return check(strndup(s, n));
}
