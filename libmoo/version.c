#include "internal.h"
#include "moo-version.h"

const char *moo_version(void)
{
	return MOO_VERSION_STRING;
}
