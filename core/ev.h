/* A small event loop (as redis's ae): file descriptors, timers and signals,
 * on epoll, in one thread. It knows nothing of sockets, HTTP/2 or the
 * service: the server module builds those on it. Everything lives in the
 * struct ev_loop (no globals), so one loop per thread is possible.
 *
 * Callbacks may add and delete any descriptor or timer, the one being
 * served included. A descriptor deleted while a batch of events is being
 * served gets no further event from that batch, even if its number is
 * reused at once (each registration has a generation, carried in the epoll
 * event): a callback never sees an event meant for a closed descriptor. */
#ifndef COMPAT_EV_H
#define COMPAT_EV_H

#include <stdint.h>

#include "err.h"

enum { EV_NONE = 0, EV_READ = 1, EV_WRITE = 2 };

/* A timer callback returns the milliseconds until it runs again, or EV_NOMORE. */
#define EV_NOMORE (-1)

struct ev_loop;

/* mask: EV_READ/EV_WRITE that fired (EV_READ also for errors and hang-ups). */
typedef void ev_file_fn(struct ev_loop *l, int fd, void *data, int mask);
typedef int64_t ev_timer_fn(struct ev_loop *l, int64_t id, void *data);
typedef void ev_signal_fn(struct ev_loop *l, int signo, void *data);
typedef void ev_hook_fn(struct ev_loop *l, void *data);

/* A loop for descriptors below setsize. Returns 0, COMPAT_ENOMEM, COMPAT_EIO. */
int ev_create(struct ev_loop **out, int setsize, struct cerr *err);

/* Frees the loop (not the descriptors registered: their owners close them). */
void ev_destroy(struct ev_loop *l);

/* Watch fd for mask (added to what is watched already), calling fn with
 * data (the same fn and data for both directions). Returns 0, COMPAT_ELIMIT
 * (fd >= setsize), COMPAT_EIO (epoll_ctl). */
int ev_file_add(struct ev_loop *l, int fd, int mask, ev_file_fn *fn, void *data);

/* Stop watching fd for mask; with nothing left it is forgotten. */
void ev_file_del(struct ev_loop *l, int fd, int mask);

/* What fd is watched for (EV_NONE when not registered). */
int ev_file_mask(const struct ev_loop *l, int fd);

/* Run fn in ms milliseconds (then again as it says). Returns an id > 0, or
 * COMPAT_ENOMEM. */
int64_t ev_timer_add(struct ev_loop *l, int64_t ms, ev_timer_fn *fn, void *data);

/* Cancel a timer (a no-op when it already ended). */
void ev_timer_del(struct ev_loop *l, int64_t id);

/* Deliver signo to fn through a signalfd of this loop; the signal is
 * blocked in the calling thread (threads started later inherit that).
 * Returns 0, COMPAT_EIO. */
int ev_signal_add(struct ev_loop *l, int signo, ev_signal_fn *fn, void *data);

/* Called before each wait (redis's beforesleep): buffered TLS records,
 * deferred frees. */
void ev_set_before_sleep(struct ev_loop *l, ev_hook_fn *fn, void *data);

/* Serve events until ev_stop. Returns 0, COMPAT_EIO (epoll_wait failed). */
int ev_run(struct ev_loop *l, struct cerr *err);

/* Make ev_run return after the current batch. */
void ev_stop(struct ev_loop *l);

#endif
