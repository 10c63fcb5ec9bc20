/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the agent's event loop (agent/loop.c): freed fd slots are
 * reused (an HTTP endpoint adds and removes an fd per connection, far more
 * than LOOP_MAX_FDS over the agent's life), an event still queued for a
 * deleted fd never reaches the fd that took its slot, and write interest can
 * be switched on and off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

static struct loop l;

static void noop(void *arg, int fd)
{
	(void)arg;
	(void)fd;
}

static void stop_timer(void *arg, int64_t now)
{
	(void)now;
	loop_stop(arg);
}

static void test_slots_reused(void **state)
{
	(void)state;
	assert_int_equal(loop_init(&l), 0);
	for (int round = 0; round < 10 * LOOP_MAX_FDS; round++) {
		int p[2];

		assert_int_equal(pipe(p), 0);
		assert_int_equal(loop_add_fd(&l, p[0], noop, NULL), 0);
		loop_del_fd(&l, p[0]);
		close(p[0]);
		close(p[1]);
	}
	assert_int_equal(l.n_fds, 1);
	loop_close(&l);
}

static void test_full(void **state)
{
	int p[LOOP_MAX_FDS + 1][2];

	(void)state;
	assert_int_equal(loop_init(&l), 0);
	for (int i = 0; i <= LOOP_MAX_FDS; i++)
		assert_int_equal(pipe(p[i]), 0);
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		assert_int_equal(loop_add_fd(&l, p[i][0], noop, NULL), 0);
	assert_int_equal(loop_add_fd(&l, p[LOOP_MAX_FDS][0], noop, NULL), -1);
	loop_del_fd(&l, p[5][0]);
	assert_int_equal(loop_add_fd(&l, p[LOOP_MAX_FDS][0], noop, NULL), 0);
	assert_int_equal(l.fds[5].fd, p[LOOP_MAX_FDS][0]);
	for (int i = 0; i <= LOOP_MAX_FDS; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	loop_close(&l);
}

/* Two readable pipes; whichever callback runs first deletes the other pipe
 * and registers a third (idle) one in its slot. */
static int pa[2], pb[2], pc[2];
static int calls_a, calls_b, calls_c;

static void on_c(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	calls_c++;
}

static void on_ab(void *arg, int fd)
{
	char buf[8];
	int other = fd == pa[0] ? pb[0] : pa[0];

	(void)arg;
	if (fd == pa[0])
		calls_a++;
	else
		calls_b++;
	assert_int_equal(read(fd, buf, sizeof(buf)), 1);
	loop_del_fd(&l, other);
	assert_int_equal(loop_add_fd(&l, pc[0], on_c, NULL), 0);
}

static void test_stale_event(void **state)
{
	(void)state;
	assert_int_equal(loop_init(&l), 0);
	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	assert_int_equal(pipe(pc), 0);
	assert_int_equal(loop_add_fd(&l, pa[0], on_ab, NULL), 0);
	assert_int_equal(loop_add_fd(&l, pb[0], on_ab, NULL), 0);
	assert_int_equal(write(pa[1], "x", 1), 1);
	assert_int_equal(write(pb[1], "x", 1), 1);
	assert_int_equal(loop_add_timer(&l, 50, stop_timer, &l), 0);
	assert_int_equal(loop_run(&l), 0);
	/* Both were ready in one epoll batch: one ran, the other's event was
	 * stale and must not have reached pc (which is idle anyway). */
	assert_int_equal(calls_a + calls_b, 1);
	assert_int_equal(calls_c, 0);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
		close(pc[i]);
	}
	loop_close(&l);
}

static int writable_calls;

static void on_writable(void *arg, int fd)
{
	(void)fd;
	if (++writable_calls == 3)
		assert_int_equal(loop_want_write(&l, *(int *)arg, 0), 0);
}

static void test_want_write(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(loop_init(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(loop_add_fd(&l, sv[0], on_writable, &sv[0]), 0);
	assert_int_equal(loop_want_write(&l, sv[0], 1), 0);
	assert_int_equal(loop_want_write(&l, sv[1], 1), -1); /* not registered */
	assert_int_equal(loop_add_timer(&l, 50, stop_timer, &l), 0);
	assert_int_equal(loop_run(&l), 0);
	/* Called while writable, then no more once write interest is off. */
	assert_int_equal(writable_calls, 3);
	close(sv[0]);
	close(sv[1]);
	loop_close(&l);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_reused),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_stale_event),
		cmocka_unit_test(test_want_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
