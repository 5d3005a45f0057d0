/*
 * ringtool.c -- "postmuxctl ring": where would these users go?
 *
 * Builds rings with the same code the data plane publishes (director/ring.c)
 * and hashes names with the same template code, so its answers are the data
 * plane's answers. Tests use it as an oracle, operators as a what-if tool.
 */
#include "ringtool.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "director/ring.h"
#include "director/userhash.h"
#include "hostspec.h"

#define EXIT_USAGE 2

struct built_ring {
	struct pm_ring *ring;
	int tag;	/* index of the requested tag, or -1 */
};

static const char ring_usage[] =
	"usage: postmuxctl ring --backends SPEC [--to-backends SPEC] [--tag TAG]\n"
	"                       [--hash-format FMT] [--master-separator C] < usernames\n"
	"\n"
	"Reads user names from stdin, one a line (a trailing CR is dropped), and\n"
	"places them exactly as a Dovecot 2.3 director with those backends would.\n"
	"\n"
	"  --backends SPEC      backends: \"IP[@tag][=vhosts][:down] ...\", also ranges\n"
	"                       IP1-IP2; vhosts default 100, at most 1000\n"
	"  --to-backends SPEC   compare with a second set of backends: print\n"
	"                       \"old<TAB>new<TAB>users\" for every pair of backends\n"
	"                       users would move between, then \"total<TAB>moved<TAB>users\"\n"
	"  --tag TAG            use the ring of TAG (default: the untagged ring)\n"
	"  --hash-format FMT    director_username_hash template (default %Lu)\n"
	"  --master-separator C cut names at the first C before hashing\n"
	"\n"
	"Without --to-backends prints \"username<TAB>hash<TAB>backend\" per name, the\n"
	"backend empty when the ring has no usable host. Exit status 2 on bad input.\n";

static int
build(const char *spec, const char *tag, struct built_ring *out, char *err, size_t errlen)
{
	struct pm_hostspec *hs = NULL;
	struct pm_ring_input *in = NULL;
	const char **names = NULL;
	size_t n, i, ntags = 1, t;
	int ret;

	if (pm_hostspec_parse(spec, &hs, &n, err, errlen) < 0)
		return -EINVAL;
	in = calloc(n ? n : 1, sizeof(*in));
	names = calloc(n + 1, sizeof(*names));
	if (in == NULL || names == NULL) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	names[0] = "";
	for (i = 0; i < n; i++) {
		for (t = 0; t < ntags; t++) {
			if (strcmp(names[t], hs[i].tag) == 0)
				break;
		}
		if (t == ntags)
			names[ntags++] = hs[i].tag;
		in[i].addr = hs[i].addr;
		in[i].id = (uint32_t)i + 1;
		in[i].tag = (uint16_t)t;
		in[i].vhosts = hs[i].vhosts;
		in[i].down = hs[i].down;
	}
	if (n > PM_RING_MAX_HOSTS) {
		snprintf(err, errlen, "%zu backends, more than the %d a ring can hold", n,
			 PM_RING_MAX_HOSTS);
		ret = -EINVAL;
		goto out;
	}
	ret = pm_ring_build(in, (uint32_t)n, names, (uint32_t)ntags, 1, &out->ring);
	if (ret < 0) {
		snprintf(err, errlen, "cannot build the ring: %s", strerror(-ret));
		goto out;
	}
	out->tag = pm_ring_find_tag(out->ring, tag);
	if (out->tag < 0)
		out->tag = -1;
out:
	free(names);
	free(in);
	free(hs);
	return ret;
}

static void
backend_text(const struct built_ring *b, uint32_t hash, char *buf, size_t size)
{
	int idx = b->tag < 0 ? PM_RING_NO_HOST : pm_ring_lookup(b->ring, (uint32_t)b->tag, hash);

	buf[0] = '\0';
	if (idx != PM_RING_NO_HOST)
		pm_addr_format(&b->ring->hosts[idx].addr, buf, size);
}

struct move_pair {
	char from[PM_ADDR_STRLEN];
	char to[PM_ADDR_STRLEN];
	unsigned long users;
};

static int
cmp_pair(const void *a, const void *b)
{
	const struct move_pair *x = a, *y = b;
	int c = strcmp(x->from, y->from);

	return c != 0 ? c : strcmp(x->to, y->to);
}

int
pm_ringtool_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backends", required_argument, NULL, 'b' },
		{ "to-backends", required_argument, NULL, 't' },
		{ "tag", required_argument, NULL, 'T' },
		{ "hash-format", required_argument, NULL, 'f' },
		{ "master-separator", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *from_spec = NULL, *to_spec = NULL, *tag = "", *fmt = PM_USERHASH_DEFAULT;
	char sep = '\0', err[512], a[PM_ADDR_STRLEN], b[PM_ADDR_STRLEN];
	struct built_ring from = { 0 }, to = { 0 };
	struct pm_userhash_fmt hf;
	struct move_pair *pairs = NULL;
	size_t npairs = 0, cap = 0, i, len;
	unsigned long users = 0, moved = 0;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t got;
	int c, status = EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			from_spec = optarg;
			break;
		case 't':
			to_spec = optarg;
			break;
		case 'T':
			tag = optarg;
			break;
		case 'f':
			fmt = optarg;
			break;
		case 'm':
			if (strlen(optarg) != 1) {
				fprintf(stderr, "postmuxctl ring: --master-separator takes "
						"one character\n");
				return EXIT_USAGE;
			}
			sep = optarg[0];
			break;
		case 'h':
			fputs(ring_usage, stdout);
			return 0;
		default:
			fputs(ring_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (from_spec == NULL || optind != argc) {
		fputs(ring_usage, stderr);
		return EXIT_USAGE;
	}
	if (pm_userhash_compile(&hf, fmt, sep, err, sizeof(err)) < 0) {
		fprintf(stderr, "postmuxctl ring: %s\n", err);
		return EXIT_USAGE;
	}
	if (build(from_spec, tag, &from, err, sizeof(err)) < 0) {
		fprintf(stderr, "postmuxctl ring: --backends: %s\n", err);
		goto out;
	}
	if (to_spec != NULL && build(to_spec, tag, &to, err, sizeof(err)) < 0) {
		fprintf(stderr, "postmuxctl ring: --to-backends: %s\n", err);
		goto out;
	}

	while ((got = getline(&line, &linecap, stdin)) >= 0) {
		uint32_t hash;

		len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		hash = pm_userhash(&hf, line, len);
		backend_text(&from, hash, a, sizeof(a));
		users++;
		if (to.ring == NULL) {
			fwrite(line, 1, len, stdout);
			printf("\t%u\t%s\n", hash, a);
			continue;
		}
		backend_text(&to, hash, b, sizeof(b));
		if (strcmp(a, b) == 0)
			continue;
		moved++;
		for (i = 0; i < npairs; i++) {
			if (strcmp(pairs[i].from, a) == 0 && strcmp(pairs[i].to, b) == 0)
				break;
		}
		if (i == npairs) {
			if (npairs == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct move_pair *np = realloc(pairs, ncap * sizeof(*np));

				if (np == NULL) {
					fprintf(stderr, "postmuxctl ring: out of memory\n");
					status = 1;
					goto out;
				}
				pairs = np;
				cap = ncap;
			}
			memset(&pairs[npairs], 0, sizeof(pairs[0]));
			strcpy(pairs[npairs].from, a);
			strcpy(pairs[npairs].to, b);
			npairs++;
		}
		pairs[i].users++;
	}
	if (to.ring != NULL) {
		if (npairs > 1)
			qsort(pairs, npairs, sizeof(*pairs), cmp_pair);
		for (i = 0; i < npairs; i++)
			printf("%s\t%s\t%lu\n", pairs[i].from, pairs[i].to, pairs[i].users);
		printf("total\t%lu\t%lu\n", moved, users);
	}
	status = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
out:
	free(line);
	free(pairs);
	pm_ring_free(from.ring);
	pm_ring_free(to.ring);
	return status;
}
