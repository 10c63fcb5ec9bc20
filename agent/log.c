/* SPDX-License-Identifier: MIT */
/* Logging for dalio-agent: "dalio-agent: <level>: <message>" on stderr. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int log_verbose;

void log_msg(const char *level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dalio-agent: %s: ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
