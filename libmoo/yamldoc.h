/*
 * yamldoc: libyaml's event stream → a small node tree, with hostile YAML stopped on the way.
 * Internal; spec.c and config.c read their documents through it.
 *
 * It checks UTF-8 up front, counts nesting depth on the events (libyaml itself has no
 * limit), and counts aliases and the nodes they expand to (an alias points at its
 * anchor's node, never copies it; an anchor is usable only once its node is complete, so
 * there are no cycles). Scalars are typed by the YAML 1.2 core schema with decimal
 * integers only; explicit core tags are honoured; merge keys ("<<") are applied.
 */
#ifndef MOO_YAMLDOC_H
#define MOO_YAMLDOC_H
#include <jansson.h>
#include "internal.h"

enum moo__ykind { MOO_Y_SCALAR, MOO_Y_SEQ, MOO_Y_MAP };

struct moo__ynode {
	enum moo__ykind kind;
	char *text;      /* scalars */
	bool plain;      /* a plain (unquoted) scalar, so its type comes from its text */
	const char *tag; /* a core tag given explicitly (static string), or NULL */
	int line, col;
	struct moo__ynode **kids; /* sequence items; mapping keys and values, alternating */
	size_t n;
	size_t weight; /* nodes in this subtree with aliases expanded */
};

enum moo__stype { MOO_S_STR, MOO_S_INT, MOO_S_FLOAT, MOO_S_BOOL, MOO_S_NULL };

struct moo__ydoc; /* owns every node */

/*
 * Parses one document within MOO_SPEC_MAX_* limits. Returns its root (owned by *doc,
 * which is set even on failure), or NULL with diagnostics appended to *diags (none for
 * an empty document). file names the input in diagnostics.
 */
struct moo__ynode *moo__yaml_load(struct moo__ydoc **doc, const char *data, size_t len,
				  const char *file, struct moo_error **diags);
void moo__ydoc_free(struct moo__ydoc *doc);
/* Whether the document used an anchor (&a) or an alias (*a) anywhere. */
bool moo__ydoc_has_aliases(const struct moo__ydoc *doc);

/* The scalar's type under the core schema (plain text) or its explicit tag. */
enum moo__stype moo__yaml_stype(const struct moo__ynode *n);
/* "a string", "a list", … for messages. */
const char *moo__yaml_kind_name(const struct moo__ynode *n);
/* The node as JSON (new reference). */
json_t *moo__yaml_to_json(const struct moo__ynode *n);
#endif
