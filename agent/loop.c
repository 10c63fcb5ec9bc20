/* SPDX-License-Identifier: MIT */
/* The agent's epoll event loop; see loop.h. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

int64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -1 : 0;
}

void loop_close(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int loop_add_fd(struct loop *l, int fd, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = l->n_fds};

	if (l->n_fds == LOOP_MAX_FDS) {
		errno = ENOSPC;
		return -1;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	l->fds[l->n_fds++] = (struct loop_fd){.fd = fd, .cb = cb, .arg = arg};
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	for (unsigned i = 0; i < l->n_fds; i++) {
		if (l->fds[i].fd != fd)
			continue;
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		/* Slots are epoll cookies: mark dead instead of moving others. */
		l->fds[i].fd = -1;
		l->fds[i].cb = NULL;
		return;
	}
}

int loop_add_timer(struct loop *l, unsigned period_ms, loop_timer_cb cb, void *arg)
{
	if (l->n_timers == LOOP_MAX_TIMERS || period_ms == 0) {
		errno = l->n_timers == LOOP_MAX_TIMERS ? ENOSPC : EINVAL;
		return -1;
	}
	l->timers[l->n_timers++] = (struct loop_timer){
		.period_ms = period_ms, .next_ms = loop_now_ms() + period_ms, .cb = cb, .arg = arg};
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

/* Runs due timers; returns ms until the next one (at most 1000). */
static int run_timers(struct loop *l)
{
	int64_t now = loop_now_ms(), wait = 1000;

	for (unsigned i = 0; i < l->n_timers && !l->stop; i++) {
		struct loop_timer *t = &l->timers[i];

		if (now >= t->next_ms) {
			t->cb(t->arg, now);
			/* No catch-up bursts after a stall: next period from now. */
			t->next_ms = now + t->period_ms;
		}
		if (t->next_ms - now < wait)
			wait = t->next_ms - now;
	}
	return wait < 0 ? 0 : (int)wait;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_MAX_FDS];

	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_FDS, run_timers(l));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_fd *f = &l->fds[evs[i].data.u32];

			if (f->cb)
				f->cb(f->arg, f->fd);
		}
	}
	return 0;
}
