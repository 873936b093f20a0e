/* Transfer progress: what puts and collects report to moo_set_transfer_progress's callback. */
#include "../transport.h"

static moo_progress_cb xfer_cb;
static uint64_t xfer_done[2], xfer_total[2];
/* a kept connection's master (transport_mux.c): this thread's transfer goes to its client */
static __thread void (*fwd)(bool upload, bool begin, uint64_t n, void *arg);
static __thread void *fwd_arg;

void moo__transfer_forward(void (*fn)(bool upload, bool begin, uint64_t n, void *arg), void *arg)
{
	fwd = fn;
	fwd_arg = arg;
}

void moo_set_transfer_progress(moo_progress_cb cb)
{
	xfer_cb = cb;
}

void moo__transfer_begin(bool upload, uint64_t total)
{
	if (fwd) {
		fwd(upload, true, total, fwd_arg);
		return;
	}
	xfer_done[upload] = 0;
	xfer_total[upload] = total;
}

void moo__transfer_progress(bool upload, uint64_t bytes)
{
	if (fwd) {
		fwd(upload, false, bytes, fwd_arg);
		return;
	}
	xfer_done[upload] += bytes;
	if (xfer_cb) {
		uint64_t total = xfer_total[upload];

		/* a file that grew while it was sent: the total follows, never below done */
		if (total && xfer_done[upload] > total) {
			total = xfer_total[upload] = xfer_done[upload];
		}
		xfer_cb(xfer_done[upload], total, (void *)(upload ? "upload" : "download"));
	}
}
