/* ucwa-sipd's doorbell: the outbox is taken the moment something is queued, not at the
 * next poll. ucwa_txn_run (mod_ucwa/ucwa_shm.c) wakes the futex of the store's word
 * UCWA_WORD_POOL_OUT after a transaction that queued a message; a thread of this process
 * waits on that word (one second at most, then looks again) and writes a byte to a pipe
 * libre's loop watches, which takes the outbox at once. The loop's own timer stays as
 * the backstop (ucwa_sipd_call.c: 2 ms busy, 20 ms idle), so an idle server costs 50
 * wake-ups a second and the first call after an idle spell does not wait for the next
 * poll (docs/ARCHITECTURE.md §13). */
#include <httpd.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "ucwa_shm.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

typedef struct {
    volatile apr_uint32_t *word;
    int fd;                       /* the pipe's write end */
} bell_ctx;

static void *bell_main(void *arg)
{
    bell_ctx *b = arg;
    apr_uint32_t seen = __atomic_load_n(b->word, __ATOMIC_SEQ_CST);

    for (;;) {
        apr_uint32_t now;
        ucwa_shm_wait_word(b->word, seen, apr_time_from_sec(1));
        now = __atomic_load_n(b->word, __ATOMIC_SEQ_CST);
        if (now != seen) {
            seen = now;
            if (write(b->fd, "", 1) < 0 && errno != EAGAIN && errno != EINTR) {
                return NULL;   /* the process is closing */
            }
        }
    }
    return NULL;
}

static void on_bell(int flags, void *arg)
{
    sipd *d = arg;
    char buf[64];

    (void)flags;
    while (read(d->bell_fd, buf, sizeof(buf)) > 0) {
    }
    sipd_outbox_now(d);
}

void sipd_bell_start(sipd *d)
{
    int fds[2];
    bell_ctx *b;
    pthread_t t;
    pthread_attr_t attr;

    d->bell_fd = -1;
    if (!d->store || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return;
    }
    b = apr_pcalloc(d->pool, sizeof(*b));
    b->word = ucwa_store_word(d->store, UCWA_WORD_POOL_OUT);
    b->fd = fds[1];
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (fd_listen(fds[0], FD_READ, on_bell, d) != 0
        || pthread_create(&t, &attr, bell_main, b) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, d->s, UCWALOGNO(00867)
                     "ucwa-sipd: no doorbell thread: the outbox is taken at its polls only");
        fd_close(fds[0]);
        close(fds[0]);
        close(fds[1]);
        pthread_attr_destroy(&attr);
        return;
    }
    pthread_attr_destroy(&attr);
    d->bell_fd = fds[0];
}

void sipd_bell_stop(sipd *d)
{
    if (d->bell_fd >= 0) {
        fd_close(d->bell_fd);
        close(d->bell_fd);
        d->bell_fd = -1;
    }
}
