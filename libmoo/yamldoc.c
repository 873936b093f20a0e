#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "yamldoc.h"

struct moo__ydoc {
	char *file;
	struct moo_error **diags;
	struct moo__ynode **arena;
	size_t n_arena, cap_arena; /* doubled as it fills: images.yaml has thousands of nodes */
	struct {
		char *name;
		struct moo__ynode *node;
	} * anchors;
	size_t n_anchors;
	size_t nodes, aliases;
};

static struct moo_error *diag_at(struct moo_error **diags, const char *file, int line, int col,
				 enum moo_severity sev, const char *fmt, ...) MOO_PRINTF(6, 7);

static struct moo_error *diag_at(struct moo_error **diags, const char *file, int line, int col,
				 enum moo_severity sev, const char *fmt, ...)
{
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(diags, MOO_ESPEC, sev, fmt, ap);
	va_end(ap);
	moo__error_at(e, file, line, col);
	return e;
}

/* ---- pass 1: bytes → nodes ---------------------------------------------------- */

/* Offset of the first byte that is not valid UTF-8, or len when all are. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07;
		} else {
			return i;
		}
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
				return i;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return i;
		}
		i += n + 1;
	}
	return len;
}

static struct moo__ynode *node_new(struct moo__ydoc *p, enum moo__ykind kind, const yaml_mark_t *m)
{
	struct moo__ynode *n = moo__calloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	n->weight = 1;
	if (p->n_arena == p->cap_arena) {
		p->cap_arena = p->cap_arena ? 2 * p->cap_arena : 64;
		p->arena = moo__realloc(p->arena, p->cap_arena * sizeof(*p->arena));
	}
	p->arena[p->n_arena++] = n;
	return n;
}

/* The explicit core tag of a scalar as one of our static strings: "int", "float", … */
static const char *core_tag(const yaml_char_t *tag)
{
	static const char *const tags[][2] = {
		{YAML_INT_TAG, "int"},
		{YAML_FLOAT_TAG, "float"},
		{YAML_BOOL_TAG, "bool"},
		{YAML_NULL_TAG, "null"},
	};
	size_t i;

	for (i = 0; tag && i < MOO_ARRAY_SIZE(tags); i++) {
		if (!strcmp((const char *)tag, tags[i][0])) {
			return tags[i][1];
		}
	}
	return NULL; /* untagged, !!str, !!timestamp and "!" read as text */
}

static bool tag_ok(const yaml_char_t *tag)
{
	static const char *const ok[] = {
		YAML_STR_TAG,       YAML_INT_TAG, YAML_FLOAT_TAG, YAML_BOOL_TAG, YAML_NULL_TAG,
		YAML_TIMESTAMP_TAG, YAML_SEQ_TAG, YAML_MAP_TAG,   "!",
	};
	size_t i;

	if (!tag) {
		return true;
	}
	for (i = 0; i < MOO_ARRAY_SIZE(ok); i++) {
		if (!strcmp((const char *)tag, ok[i])) {
			return true;
		}
	}
	return false;
}

static bool is_merge_key(const struct moo__ynode *k)
{
	return k->kind == MOO_Y_SCALAR && k->plain && !strcmp(k->text, "<<");
}

static bool map_has_key(const struct moo__ynode *map, size_t npairs2, const char *key)
{
	size_t i;

	for (i = 0; i < npairs2; i += 2) {
		if (map->kids[i]->kind == MOO_Y_SCALAR && !strcmp(map->kids[i]->text, key)) {
			return true;
		}
	}
	return false;
}

/* YAML merge keys ("<<: *base"): explicit keys win, then sources in order. */
static void apply_merges(struct moo__ydoc *p, struct moo__ynode *map)
{
	struct moo__ynode **old = map->kids;
	size_t n_old = map->n, i, j;

	for (i = 0; i < n_old; i += 2) {
		if (is_merge_key(old[i])) {
			break;
		}
	}
	if (i >= n_old) {
		return;
	}
	map->kids = NULL;
	map->n = 0;
	for (i = 0; i < n_old; i += 2) {
		if (!is_merge_key(old[i])) {
			MOO_GROW(map->kids, map->n + 1);
			map->kids[map->n++] = old[i];
			map->kids[map->n++] = old[i + 1];
		}
	}
	for (i = 0; i < n_old; i += 2) {
		struct moo__ynode *v = old[i + 1];
		struct moo__ynode *const *src = &v;
		size_t n_src = 1, s;

		if (!is_merge_key(old[i])) {
			continue;
		}
		if (v->kind == MOO_Y_SEQ) {
			src = v->kids;
			n_src = v->n;
		}
		for (s = 0; s < n_src; s++) {
			if (src[s]->kind != MOO_Y_MAP) {
				diag_at(p->diags, p->file, src[s]->line, src[s]->col, MOO_SEV_ERROR,
					"a merge key '<<' needs a mapping or a list of mappings");
				continue;
			}
			for (j = 0; j < src[s]->n; j += 2) {
				struct moo__ynode *k = src[s]->kids[j];

				if (k->kind == MOO_Y_SCALAR && map_has_key(map, map->n, k->text)) {
					continue;
				}
				MOO_GROW(map->kids, map->n + 1);
				map->kids[map->n++] = k;
				map->kids[map->n++] = src[s]->kids[j + 1];
			}
		}
	}
	free(old);
}

static int count_nodes(struct moo__ydoc *p, size_t add, const yaml_mark_t *m)
{
	p->nodes += add;
	if (p->nodes > MOO_SPEC_MAX_NODES) {
		struct moo_error *e;

		e = diag_at(p->diags, p->file, (int)m->line + 1, (int)m->column + 1, MOO_SEV_ERROR,
			    "document expands to more than %d nodes", MOO_SPEC_MAX_NODES);
		moo__error_hint(e, "a metadata.yaml this large is likely an alias bomb; "
				   "write the values out instead of nesting aliases");
		return -1;
	}
	return 0;
}

static void attach(struct moo__ynode *parent, struct moo__ynode *child)
{
	MOO_GROW(parent->kids, parent->n);
	parent->kids[parent->n++] = child;
	parent->weight += child->weight;
}

static void add_anchor(struct moo__ydoc *p, const yaml_char_t *anchor, struct moo__ynode *n)
{
	if (!anchor) {
		return;
	}
	/* A later anchor of the same name shadows the earlier one, as YAML says. */
	MOO_GROW(p->anchors, p->n_anchors);
	p->anchors[p->n_anchors].name = moo__strdup((const char *)anchor);
	p->anchors[p->n_anchors].node = n;
	p->n_anchors++;
}

static struct moo__ynode *find_anchor(struct moo__ydoc *p, const char *name)
{
	size_t i;

	for (i = p->n_anchors; i-- > 0;) {
		if (!strcmp(p->anchors[i].name, name)) {
			return p->anchors[i].node;
		}
	}
	return NULL;
}

static bool tagged_text_ok(const struct moo__ynode *n);

/* Returns the document's root, or NULL with diagnostics added. */
static struct moo__ynode *build_tree(struct moo__ydoc *p, const char *data, size_t len)
{
	struct moo__ynode *stack[MOO_SPEC_MAX_DEPTH + 1], *root = NULL, *node;
	const yaml_char_t *stack_anchor[MOO_SPEC_MAX_DEPTH + 1];
	yaml_event_t ev_store[MOO_SPEC_MAX_DEPTH + 1];
	yaml_parser_t yp;
	yaml_event_t ev;
	int depth = 0, docs = 0;
	bool done = false, failed = false;
	size_t bad;

	bad = utf8_invalid_at((const unsigned char *)data, len);
	{
		/* A control character (YAML allows tab, line feed and carriage return) is named
		 * where it is: libyaml's reader reports it at 1:1. */
		size_t ctl = 0;
		int line = 1, col = 1;
		size_t i;

		while (ctl < len && ctl < bad &&
		       !(((unsigned char)data[ctl] < 0x20 && data[ctl] != '\t' &&
			  data[ctl] != '\n' && data[ctl] != '\r') ||
			 data[ctl] == 0x7f)) {
			ctl++;
		}
		if ((ctl < len && ctl < bad) || bad < len) {
			bool is_ctl = ctl < bad && ctl < len; /* the loop stopped at one */
			size_t at = is_ctl ? ctl : bad;

			for (i = 0; i < at; i++) {
				if (data[i] == '\n') {
					line++, col = 1;
				} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
					col++;
				}
			}
			if (is_ctl) {
				moo__error_hint(
					diag_at(p->diags, p->file, line, col, MOO_SEV_ERROR,
						"invalid YAML: a control character (0x%02x)",
						(unsigned char)data[at]),
					"remove it; in a double-quoted string write it as an "
					"escape "
					"(\\t, \\x1b)");
			} else {
				moo__error_hint(diag_at(p->diags, p->file, line, col, MOO_SEV_ERROR,
							"invalid UTF-8 at byte %zu", bad),
						"save the file as UTF-8");
			}
			return NULL;
		}
	}

	yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, (const unsigned char *)data, len);
	while (!done && !failed) {
		if (!yaml_parser_parse(&yp, &ev)) {
			struct moo_error *e;
			size_t at = yp.problem_mark.index;

			/* libyaml's words for a tab ("cannot start any token") name no tab */
			if (at < len && data[at] == '\t') {
				e = diag_at(
					p->diags, p->file, (int)yp.problem_mark.line + 1,
					(int)yp.problem_mark.column + 1, MOO_SEV_ERROR,
					"invalid YAML: a tab character where YAML needs spaces");
				moo__error_hint(e,
						"indent with spaces; YAML does not allow tabs in "
						"indentation");
				failed = true;
				break;
			}
			/* Run into the end of the file: what was never closed (a quote, a [ or
			 * a {) is named where it opened, not past the last line. */
			if (at >= len && yp.context) {
				const char *what =
					strstr(yp.context, "quoted scalar")   ? "a quoted string"
					: strstr(yp.context, "flow mapping")  ? "a { } mapping"
					: strstr(yp.context, "flow sequence") ? "a [ ] list"
									      : NULL;

				e = diag_at(p->diags, p->file, (int)yp.context_mark.line + 1,
					    (int)yp.context_mark.column + 1, MOO_SEV_ERROR,
					    "invalid YAML: the file ends inside %s that starts "
					    "here%s%s",
					    what ? what : "what", what ? "" : " ",
					    what ? "" : yp.context);
				moo__error_hint(
					e, "close it (a quote, ']' or '}') where it should end");
				failed = true;
				break;
			}
			e = diag_at(p->diags, p->file, (int)yp.problem_mark.line + 1,
				    (int)yp.problem_mark.column + 1, MOO_SEV_ERROR,
				    "invalid YAML: %s%s%s",
				    yp.problem ? yp.problem : "syntax error", yp.context ? " " : "",
				    yp.context ? yp.context : "");
			moo__error_hint(e, "check the indentation and quoting near this line");
			failed = true;
			break;
		}
		node = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				moo__error_hint(
					diag_at(p->diags, p->file, (int)ev.start_mark.line + 1,
						(int)ev.start_mark.column + 1, MOO_SEV_ERROR,
						"more than one YAML document"),
					"remove the second '---' and what follows it");
				failed = true;
			}
			break;
		case YAML_SCALAR_EVENT:
			if (!tag_ok(ev.data.scalar.tag)) {
				diag_at(p->diags, p->file, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1, MOO_SEV_ERROR,
					"unsupported tag '%s'", (const char *)ev.data.scalar.tag);
				failed = true;
				break;
			}
			if (count_nodes(p, 1, &ev.start_mark)) {
				failed = true;
				break;
			}
			node = node_new(p, MOO_Y_SCALAR, &ev.start_mark);
			node->text = moo__strndup((const char *)ev.data.scalar.value,
						  ev.data.scalar.length);
			if (strlen(node->text) != ev.data.scalar.length) {
				diag_at(p->diags, p->file, node->line, node->col, MOO_SEV_ERROR,
					"a NUL character in a value");
				failed = true;
				break;
			}
			node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
				      !ev.data.scalar.tag;
			node->tag = core_tag(ev.data.scalar.tag);
			if (node->tag && !tagged_text_ok(node)) {
				diag_at(p->diags, p->file, node->line, node->col, MOO_SEV_ERROR,
					"'%s' is not a valid !!%s", node->text, node->tag);
				failed = true;
				break;
			}
			add_anchor(p, ev.data.scalar.anchor, node);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			const yaml_char_t *tag = ev.type == YAML_SEQUENCE_START_EVENT
							 ? ev.data.sequence_start.tag
							 : ev.data.mapping_start.tag;

			if (depth >= MOO_SPEC_MAX_DEPTH) {
				moo__error_hint(
					diag_at(p->diags, p->file, (int)ev.start_mark.line + 1,
						(int)ev.start_mark.column + 1, MOO_SEV_ERROR,
						"nesting deeper than %d levels",
						MOO_SPEC_MAX_DEPTH),
					"flatten the document");
				failed = true;
				break;
			}
			if (!tag_ok(tag)) {
				diag_at(p->diags, p->file, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1, MOO_SEV_ERROR,
					"unsupported tag '%s'", (const char *)tag);
				failed = true;
				break;
			}
			if (count_nodes(p, 1, &ev.start_mark)) {
				failed = true;
				break;
			}
			stack[depth] = node_new(
				p, ev.type == YAML_SEQUENCE_START_EVENT ? MOO_Y_SEQ : MOO_Y_MAP,
				&ev.start_mark);
			/* Keep the event alive: its anchor is registered when the node is complete,
			 * so an alias can never point into an unfinished node (no cycles). */
			ev_store[depth] = ev;
			stack_anchor[depth] = ev.type == YAML_SEQUENCE_START_EVENT
						      ? ev.data.sequence_start.anchor
						      : ev.data.mapping_start.anchor;
			depth++;
			continue; /* the event is deleted at the matching end */
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			node = stack[depth];
			if (node->kind == MOO_Y_MAP) {
				apply_merges(p, node);
			}
			add_anchor(p, stack_anchor[depth], node);
			yaml_event_delete(&ev_store[depth]);
			break;
		case YAML_ALIAS_EVENT: {
			struct moo__ynode *target =
				find_anchor(p, (const char *)ev.data.alias.anchor);

			if (!target) {
				diag_at(p->diags, p->file, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1, MOO_SEV_ERROR,
					"alias '*%s' names no anchor defined before it",
					(const char *)ev.data.alias.anchor);
				failed = true;
				break;
			}
			if (++p->aliases > MOO_SPEC_MAX_ALIASES) {
				moo__error_hint(
					diag_at(p->diags, p->file, (int)ev.start_mark.line + 1,
						(int)ev.start_mark.column + 1, MOO_SEV_ERROR,
						"more than %d aliases", MOO_SPEC_MAX_ALIASES),
					"write the values out instead of using aliases");
				failed = true;
				break;
			}
			if (count_nodes(p, target->weight, &ev.start_mark)) {
				failed = true;
				break;
			}
			node = target;
			break;
		}
		default: break;
		}
		if (node && !failed && depth > 0 && stack[depth - 1]->kind == MOO_Y_MAP &&
		    stack[depth - 1]->n % 2 == 0 && node->kind != MOO_Y_SCALAR) {
			moo__error_hint(diag_at(p->diags, p->file, node->line, node->col,
						MOO_SEV_ERROR,
						"a mapping key must be a plain value, found %s",
						node->kind == MOO_Y_MAP ? "a mapping" : "a list"),
					"write keys as names");
			failed = true;
		}
		if (node && !failed) {
			if (depth > 0) {
				attach(stack[depth - 1], node);
			} else {
				root = node;
			}
		}
		yaml_event_delete(&ev);
	}
	while (depth > 0) {
		yaml_event_delete(&ev_store[--depth]);
	}
	yaml_parser_delete(&yp);
	return failed ? NULL : root;
}

/* ---- scalars ---------------------------------------------------------------- */

static bool match_int(const char *s)
{
	if (*s == '-' || *s == '+') {
		s++;
	}
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
	}
	return true;
}

static bool match_float(const char *s)
{
	bool digits = false;

	if (*s == '-' || *s == '+') {
		s++;
	}
	if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF")) {
		return true;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		digits = true;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			digits = true;
		}
	}
	if (!digits) {
		return false;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+') {
			s++;
		}
		if (*s < '0' || *s > '9') {
			return false;
		}
		while (*s >= '0' && *s <= '9') {
			s++;
		}
	}
	return *s == '\0';
}

enum moo__stype moo__yaml_stype(const struct moo__ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
	size_t i;

	if (n->tag) {
		/* an explicit !!int etc. still needs text of that type (checked in pass 1) */
		return !strcmp(n->tag, "int")     ? MOO_S_INT
		       : !strcmp(n->tag, "float") ? MOO_S_FLOAT
		       : !strcmp(n->tag, "bool")  ? MOO_S_BOOL
						  : MOO_S_NULL;
	}
	if (!n->plain) {
		return MOO_S_STR;
	}
	for (i = 0; i < MOO_ARRAY_SIZE(nulls); i++) {
		if (!strcmp(n->text, nulls[i])) {
			return MOO_S_NULL;
		}
	}
	for (i = 0; i < MOO_ARRAY_SIZE(bools); i++) {
		if (!strcmp(n->text, bools[i])) {
			return MOO_S_BOOL;
		}
	}
	if (match_int(n->text)) {
		return MOO_S_INT;
	}
	if (match_float(n->text) || !strcmp(n->text, ".nan") || !strcmp(n->text, ".NaN")) {
		return MOO_S_FLOAT;
	}
	return MOO_S_STR;
}

static bool tagged_text_ok(const struct moo__ynode *n)
{
	struct moo__ynode plain = *n;
	enum moo__stype want = moo__yaml_stype(n), got;

	plain.tag = NULL;
	plain.plain = true;
	got = moo__yaml_stype(&plain);
	return got == want || (want == MOO_S_FLOAT && got == MOO_S_INT);
}

const char *moo__yaml_kind_name(const struct moo__ynode *n)
{
	if (n->kind == MOO_Y_SEQ) {
		return "a list";
	}
	if (n->kind == MOO_Y_MAP) {
		return "a mapping";
	}
	switch (moo__yaml_stype(n)) {
	case MOO_S_STR: return "a string";
	case MOO_S_INT: return "an integer";
	case MOO_S_FLOAT: return "a number";
	case MOO_S_BOOL: return "a boolean";
	case MOO_S_NULL: return "nothing (null)";
	}
	return "a value";
}

json_t *moo__yaml_to_json(const struct moo__ynode *n)
{
	json_t *o;
	size_t i;

	switch (n->kind) {
	case MOO_Y_SEQ:
		o = json_array();
		for (i = 0; i < n->n; i++) {
			json_array_append_new(o, moo__yaml_to_json(n->kids[i]));
		}
		return o;
	case MOO_Y_MAP:
		o = json_object();
		for (i = 0; i < n->n; i += 2) {
			if (n->kids[i]->kind == MOO_Y_SCALAR) {
				json_object_set_new(o, n->kids[i]->text,
						    moo__yaml_to_json(n->kids[i + 1]));
			}
		}
		return o;
	case MOO_Y_SCALAR: break;
	}
	switch (moo__yaml_stype(n)) {
	case MOO_S_NULL: return json_null();
	case MOO_S_BOOL: return json_boolean(n->text[0] == 't' || n->text[0] == 'T');
	case MOO_S_INT: return json_integer(strtoll(n->text, NULL, 10));
	case MOO_S_FLOAT: return json_real(strtod(n->text, NULL));
	case MOO_S_STR: break;
	}
	return json_string(n->text);
}

struct moo__ynode *moo__yaml_load(struct moo__ydoc **doc, const char *data, size_t len,
				  const char *file, struct moo_error **diags)
{
	struct moo__ydoc *p = moo__calloc(1, sizeof(*p));

	p->file = moo__strdup(file);
	p->diags = diags;
	*doc = p;
	return build_tree(p, data, len);
}

bool moo__ydoc_has_aliases(const struct moo__ydoc *doc)
{
	return doc && (doc->n_anchors || doc->aliases);
}

void moo__ydoc_free(struct moo__ydoc *p)
{
	size_t i;

	if (!p) {
		return;
	}
	for (i = 0; i < p->n_arena; i++) {
		free(p->arena[i]->text);
		free(p->arena[i]->kids);
		free(p->arena[i]);
	}
	free(p->arena);
	for (i = 0; i < p->n_anchors; i++) {
		free(p->anchors[i].name);
	}
	free(p->anchors);
	free(p->file);
	free(p);
}
