#ifndef MOO_UTIL_H
#define MOO_UTIL_H
#include "moo/common.h"

/*
 * The candidate nearest to word by edit distance, or NULL when none is close
 * enough to be a likely typo (distance at most 2, and less than half of word).
 */
MOO_EXTERN const char *moo_suggest(const char *word, const char *const *candidates, size_t n);

/* Levenshtein distance between a and b. */
MOO_EXTERN size_t moo_edit_distance(const char *a, const char *b);
#endif
