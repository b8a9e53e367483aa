#include "reports/format.h"

#include "core/utf8.h"
#include "core/xalloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool report_type_numeric(enum report_type type)
{
	return type == REPORT_INT || type == REPORT_RATE || type == REPORT_PCT_POINTS;
}

bool report_rate_value(const char *raw, double *out)
{
	if (!raw || !*raw)
		return false;
	char *end = NULL;
	errno = 0;
	double v = strtod(raw, &end);
	if (errno != 0 || end == raw || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static void fmt_int(struct buf *out, const char *raw)
{
	/* Digits grouped by three; anything that is not an integer is shown as is. */
	const char *p = raw;
	if (*p == '-') {
		buf_putc(out, '-');
		p++;
	}
	size_t n = strlen(p);
	if (n == 0 || strspn(p, "0123456789") != n) {
		buf_puts(out, raw);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf_putc(out, ',');
		buf_putc(out, p[i]);
	}
}

void report_fmt(struct buf *out, enum report_type type, const char *raw)
{
	double v;

	if (!raw) {
		buf_puts(out, "-");
		return;
	}
	switch (type) {
	case REPORT_INT:
		fmt_int(out, raw);
		return;
	case REPORT_RATE:
		if (!report_rate_value(raw, &v))
			break;
		/* 99.96 % must not read as 100 %: floor at one decimal below 1. */
		if (v < 1.0 && v * 1000.0 >= 999.5)
			buf_puts(out, "99.9 %");
		else
			buf_printf(out, "%.1f %%", v * 100.0);
		return;
	case REPORT_PCT_POINTS:
		if (!report_rate_value(raw, &v))
			break;
		buf_printf(out, "%+.1f pt", v * 100.0);
		return;
	case REPORT_TIME:
		/* 2023-11-29T00:00:00Z -> 2023-11-29 00:00 */
		if (strlen(raw) >= 16 && raw[10] == 'T') {
			buf_append(out, raw, 10);
			buf_putc(out, ' ');
			buf_append(out, raw + 11, 5);
			return;
		}
		break;
	case REPORT_BOOL:
		if (strcmp(raw, "true") == 0 || strcmp(raw, "t") == 0) {
			buf_puts(out, "yes");
			return;
		}
		if (strcmp(raw, "false") == 0 || strcmp(raw, "f") == 0) {
			buf_puts(out, "no");
			return;
		}
		break;
	default:
		break;
	}
	buf_puts(out, raw);
}

/* Length of the character at p, whose string ends at `end`: 0 for a byte
 * that starts no valid character. */
static size_t seq_len(const unsigned char *p, const unsigned char *end)
{
	int n = utf8_len(p, (size_t)(end - p));
	return n > 0 ? (size_t)n : 0;
}

size_t report_text_width(const char *s)
{
	size_t w = 0;
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end) {
		size_t n = seq_len(p, end);
		p += n ? n : 1;
		w++;
	}
	return w;
}

size_t report_text_prefix(const char *s, size_t cols)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	size_t w = 0;
	while (p < end && w < cols) {
		size_t n = seq_len(p, end);
		p += n ? n : 1;
		w++;
	}
	return (size_t)((const char *)p - s);
}

char *report_text_clean(const char *s)
{
	struct buf b;
	buf_init(&b, 0);
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end) {
		size_t n = seq_len(p, end);
		if (n == 0) {
			buf_putc(&b, '?');
			p++;
		} else if (n == 1) {
			if (*p < 0x20 || *p == 0x7F)
				buf_putc(&b, ' ');
			else
				buf_append(&b, p, 1);
			p++;
		} else if (n == 2 && p[0] == 0xC2 && p[1] < 0xA0) {
			buf_putc(&b, ' '); /* C1 controls */
			p += 2;
		} else {
			buf_append(&b, p, n);
			p += n;
		}
	}
	if (!b.data)
		return xstrdup("");
	return buf_steal(&b);
}
