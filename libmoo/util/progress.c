/* Transfer progress: what puts and collects report to moo_set_transfer_progress's callback. */
#include "../transport.h"

static moo_progress_cb xfer_cb;
static uint64_t xfer_done[2], xfer_total[2];

void moo_set_transfer_progress(moo_progress_cb cb)
{
	xfer_cb = cb;
}

void moo__transfer_begin(bool upload, uint64_t total)
{
	xfer_done[upload] = 0;
	xfer_total[upload] = total;
}

void moo__transfer_progress(bool upload, uint64_t bytes)
{
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
