/* SPDX-License-Identifier: MIT */
/* The agent's logging: one line per event on stderr, with a level. */
#ifndef DALIO_AGENT_LOG_H
#define DALIO_AGENT_LOG_H

extern int log_verbose;

void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...)  log_msg("info", __VA_ARGS__)
#define log_warn(...)  log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_verbose)                                                                   \
			log_msg("debug", __VA_ARGS__);                                             \
	} while (0)

#endif
