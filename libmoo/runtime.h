/* runtime: the 'host' runtime — which interpreter runs a spec on a host, and how. Internal. */
#ifndef MOO_RUNTIME_H
#define MOO_RUNTIME_H
#include "transport.h"

struct moo__interp {
	char *path;    /* on the host: "/usr/bin/python3" */
	char *version; /* "3.11.2" */
};

/*
 * Finds an interpreter on the host for the spec's framework.runtime that has every
 * requirement (runtime.requirement, plus the framework's own package: scikit-learn for
 * sklearn, torch for pytorch, tensorflow for tensorflow, at framework.version). The
 * candidates are $MOO_PYTHON alone when set, else python<version> in each folder of
 * PATH, in order; each is asked (importlib.metadata) and the first that has everything
 * wins. MOO_ERESOLVE names what is missing on each and what is installed. Positive
 * answers are cached in the store (when st is not NULL) for an hour.
 */
int moo__runtime_resolve(struct moo__interp *out, struct moo__transport *t, struct moo_store *st,
			 const struct moo_spec *spec, struct moo_error **err);
void moo__interp_dispose(struct moo__interp *i);
#endif
