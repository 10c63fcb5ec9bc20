/* SPDX-License-Identifier: MIT */
/*
 * The agent's single-threaded event loop: file descriptors (sockets, the
 * signalfd, an HTTP listener) and periodic timers, on epoll. Everything the
 * agent does after start-up runs from a callback registered here, so no
 * state needs locking.
 */
#ifndef DALIO_AGENT_LOOP_H
#define DALIO_AGENT_LOOP_H

#include <stdint.h>

#define LOOP_MAX_FDS	32
#define LOOP_MAX_TIMERS 16

typedef void (*loop_fd_cb)(void *arg, int fd);
typedef void (*loop_timer_cb)(void *arg, int64_t now_ms);

struct loop_fd {
	int fd;
	loop_fd_cb cb;
	void *arg;
};

struct loop_timer {
	unsigned period_ms;
	int64_t next_ms;
	loop_timer_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	int stop;
	unsigned n_fds, n_timers;
	struct loop_fd fds[LOOP_MAX_FDS];
	struct loop_timer timers[LOOP_MAX_TIMERS];
};

int64_t loop_now_ms(void);
int loop_init(struct loop *l);
void loop_close(struct loop *l);
/* Calls cb(arg, fd) whenever fd is readable. 0 or -1 (errno set). */
int loop_add_fd(struct loop *l, int fd, loop_fd_cb cb, void *arg);
void loop_del_fd(struct loop *l, int fd);
/* Calls cb(arg, now) every period_ms (first call one period from now). */
int loop_add_timer(struct loop *l, unsigned period_ms, loop_timer_cb cb, void *arg);
/* Runs until loop_stop(); returns 0, or -1 if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif /* DALIO_AGENT_LOOP_H */
