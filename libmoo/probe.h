/*
 * probe: a host's facts from the probe script, over a transport only (probe.c). Internal;
 * the facts as data are hostfacts.c.
 */
#ifndef MOO__PROBE_H
#define MOO__PROBE_H
#include "transport.h"

/*
 * The probe script run over t with root (NULL: t's root) as its argument; probe_s is the
 * seconds it took. The host key is left empty (moo__transport_describe fills it).
 */
int moo__probe(struct moo_host_facts **out, struct moo__transport *t, const char *root,
	       struct moo_error **err);

/* The host's facts over t: probed, or the store's copy for the same boot id, driver and root. */
int moo__host_facts(struct moo_host_facts **out, struct moo__transport *t, struct moo_store *st,
		    struct moo_error **err);
#endif
