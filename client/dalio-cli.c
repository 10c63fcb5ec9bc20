/* SPDX-License-Identifier: MIT */
/*
 * dalio-cli: run Redis commands through a Dalio VIP and print the replies the
 * way redis-cli prints them for a human. Commands come from the command line,
 * or, when none is given, one per line from stdin.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dalio.h"

#define MAX_LINE_ARGS 1024

static void usage(FILE *f)
{
	fprintf(f, "usage: dalio-cli [-h VIP] [-p PORT] [--shard N] [--timeout MS] [--retries N]\n"
		   "                 [CMD [ARG...]]\n"
		   "Runs one Redis command through the Dalio VIP and prints the reply like "
		   "redis-cli.\n"
		   "Without CMD, reads commands from stdin, one per line (words split on blanks;\n"
		   "\"double quotes\" group words and understand \\n \\r \\t \\\" \\\\ \\xHH).\n"
		   "  -h VIP         VIP address, dotted IPv4 (default 127.0.0.1)\n"
		   "  -p PORT        VIP UDP port (default 7379)\n"
		   "  --shard N      shard id to put in requests (default: any, 0xffff)\n"
		   "  --timeout MS   wait per try in ms (default 200)\n"
		   "  --retries N    retransmissions after the first try (default 8)\n"
		   "  --help         this text\n"
		   "Exit status: 0 when every command got a reply (a Redis error reply included),\n"
		   "1 when one failed (refused, no reply, ...), 2 on bad usage.\n");
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A bulk string the way redis-cli shows it: quoted, with escapes. */
static void print_repr(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\a':
			fputs("\\a", stdout);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		default:
			if (isprint(ch))
				putchar(ch);
			else
				printf("\\x%02x", ch);
		}
	}
	putchar('"');
}

/*
 * Prints r. The caller has already printed the first line's prefix; indent
 * is the number of spaces that starts every further line of r.
 */
static void print_reply(const redisReply *r, int indent)
{
	switch (r->type) {
	case REDIS_REPLY_STATUS:
		fwrite(r->str, 1, r->len, stdout);
		break;
	case REDIS_REPLY_ERROR:
		fputs("(error) ", stdout);
		fwrite(r->str, 1, r->len, stdout);
		break;
	case REDIS_REPLY_INTEGER:
		printf("(integer) %lld", r->integer);
		break;
	case REDIS_REPLY_NIL:
		fputs("(nil)", stdout);
		break;
	case REDIS_REPLY_STRING:
		print_repr(r->str, r->len);
		break;
	case REDIS_REPLY_ARRAY: {
		int width = 0;

		if (r->elements == 0) {
			fputs("(empty array)", stdout);
			break;
		}
		for (size_t n = r->elements; n; n /= 10)
			width++;
		for (size_t i = 0; i < r->elements; i++) {
			if (i > 0)
				printf("\n%*s", indent, "");
			printf("%*zu) ", width, i + 1);
			print_reply(r->element[i], indent + width + 2);
		}
		break;
	}
	default:
		printf("(unknown reply type %d)", r->type);
	}
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/*
 * Splits line in place into words. Quoted words may contain any byte, so each
 * word's length goes to lens. Returns the word count, or -1 with *why set.
 */
static int split_line(char *line, char **words, size_t *lens, int max, const char **why)
{
	char *p = line;
	int n = 0;

	for (;;) {
		char *w;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			return n;
		if (n == max) {
			*why = "too many words";
			return -1;
		}
		w = p;
		words[n] = w;
		if (*p == '"') {
			char *o = w;

			p++;
			for (;;) {
				if (!*p) {
					*why = "unbalanced double quotes";
					return -1;
				}
				if (*p == '"') {
					p++;
					break;
				}
				if (*p == '\\' && p[1]) {
					int hi, lo;

					p++;
					switch (*p) {
					case 'n':
						*o++ = '\n';
						break;
					case 'r':
						*o++ = '\r';
						break;
					case 't':
						*o++ = '\t';
						break;
					case 'a':
						*o++ = '\a';
						break;
					case 'b':
						*o++ = '\b';
						break;
					case 'x':
						hi = hexval((unsigned char)p[1]);
						lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
						if (lo >= 0) {
							*o++ = (char)(hi * 16 + lo);
							p += 2;
						} else {
							*o++ = 'x';
						}
						break;
					default:
						*o++ = *p;
					}
					p++;
					continue;
				}
				*o++ = *p++;
			}
			if (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
				*why = "closing quote must be followed by a blank";
				return -1;
			}
			lens[n] = (size_t)(o - w);
			if (*p)
				p++;
			*o = '\0';
		} else {
			while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
				p++;
			lens[n] = (size_t)(p - w);
			if (*p)
				*p++ = '\0';
		}
		n++;
	}
}

static int run(struct dalio_client *c, int argc, const char **argv, const size_t *lens)
{
	char err[512];
	redisReply *reply = NULL;

	if (dalio_command_argv(c, argc, argv, lens, &reply, err, sizeof(err)) < 0) {
		fprintf(stderr, "dalio-cli: %s\n", err);
		return -1;
	}
	print_reply(reply, 0);
	putchar('\n');
	fflush(stdout);
	freeReplyObject(reply);
	return 0;
}

static int run_stdin(struct dalio_client *c)
{
	char *line = NULL, *words[MAX_LINE_ARGS];
	size_t cap = 0, lens[MAX_LINE_ARGS];
	unsigned long lineno = 0;
	int failed = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		const char *why = NULL;
		int n;

		lineno++;
		n = split_line(line, words, lens, MAX_LINE_ARGS, &why);
		if (n < 0) {
			fprintf(stderr, "dalio-cli: stdin line %lu: %s\n", lineno, why);
			failed = 1;
			continue;
		}
		if (n == 0 || words[0][0] == '#')
			continue;
		if (run(c, n, (const char **)words, lens) < 0)
			failed = 1;
	}
	free(line);
	return failed;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"shard", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"retries", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	const char *host = "127.0.0.1";
	struct dalio_client *c;
	struct dalio_opts o;
	char err[512];
	long v, port = 7379;
	int opt, rc;

	dalio_opts_init(&o);
	/* '+': stop at the command, so that its arguments may start with '-' */
	while ((opt = getopt_long(argc, argv, "+h:p:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			if (parse_long(optarg, 1, 65535, &port) < 0) {
				fprintf(stderr, "dalio-cli: bad port '%s' (1..65535)\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_long(optarg, 0, 65535, &v) < 0) {
				fprintf(stderr, "dalio-cli: bad shard '%s' (0..65535)\n", optarg);
				return 2;
			}
			o.shard = (uint16_t)v;
			break;
		case 't':
			if (parse_long(optarg, 1, 600000, &v) < 0) {
				fprintf(stderr, "dalio-cli: bad timeout '%s' (1..600000 ms)\n",
					optarg);
				return 2;
			}
			o.timeout_ms = (int)v;
			break;
		case 'r':
			if (parse_long(optarg, 0, 1000, &v) < 0) {
				fprintf(stderr, "dalio-cli: bad retries '%s' (0..1000)\n", optarg);
				return 2;
			}
			o.max_retries = (int)v;
			break;
		case 'H':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}

	c = dalio_connect(host, (uint16_t)port, &o, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "dalio-cli: %s\n", err);
		return 1;
	}
	if (optind < argc)
		rc = run(c, argc - optind, (const char **)argv + optind, NULL) < 0;
	else
		rc = run_stdin(c);
	dalio_close(c);
	return rc ? 1 : 0;
}
