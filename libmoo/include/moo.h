/* moo: the one header users of libmoo include. */
#ifndef MOO_H
#define MOO_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/util.h"
#include "moo/spec.h"
#include "moo/init.h"
#include "moo/bundle.h"
#include "moo/pack.h"
#include "moo/store.h"
#include "moo/job.h"
#include "moo/shell.h"
#include "moo/config.h"
#include "moo/host.h"
#include "moo/resolve.h"
#include "moo/runtime.h"
#include "moo/publish.h"
#include "moo/serve.h"
#include "moo/sweep.h"
#include "moo/dataset.h"
#include "moo/reproduce.h"
#endif
