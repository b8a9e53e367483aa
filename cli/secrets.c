/*
 * secrets: reading the passwords, tokens and keys the configuration file
 * points at (a file's first line, an environment variable, a command's
 * first line of output), and wiping them when done. Apart from config.c
 * so the code that touches secrets is in one short file. Declared in
 * cli/config.h.
 */
#include "cli/config.h"

#include "core/buf.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define SECRET_MAX 16384

void config_secret_free(char *secret)
{
	if (!secret)
		return;
	/* volatile, so the wipe is not optimised away */
	for (volatile char *p = secret; *p; p++)
		*p = '\0';
	free(secret);
}

/* The first line of what `f` yields, without its line end. */
static int first_line(FILE *f, char **out, const char *what, const char *where, struct err *e)
{
	struct buf b;
	buf_init(&b, SECRET_MAX);
	int c;
	while ((c = fgetc(f)) != EOF && c != '\n') {
		if (buf_putc(&b, (char)c) != 0) {
			config_secret_free(buf_steal(&b));
			return err_set(e, ERR_CONFIG, "%s of %s is longer than %d bytes", what,
			               where, SECRET_MAX);
		}
	}
	if (b.len && b.data[b.len - 1] == '\r')
		b.data[--b.len] = '\0';
	if (b.len == 0) {
		buf_free(&b);
		return err_set(e, ERR_CONFIG, "%s of %s is empty", what, where);
	}
	*out = buf_steal(&b);
	return 0;
}

int config_read_secret(const char *section, const char *file, const char *env, char **out,
                       struct err *e)
{
	*out = NULL;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return err_set(e, ERR_CONFIG, "[%s]: cannot read %s: %s", section, file,
			               strerror(errno));
		char *where = xasprintf("[%s]", section);
		int rc = first_line(f, out, "the secret file", where, e);
		free(where);
		fclose(f);
		return rc;
	}
	if (env) {
		const char *v = getenv(env);
		if (!v || !*v)
			return err_set(e, ERR_CONFIG, "[%s]: environment variable %s is not set",
			               section, env);
		*out = xstrdup(v);
	}
	return 0;
}

int config_mailbox_secret(const struct config_mailbox *mb, char **password, char **bearer,
                          struct err *e)
{
	*password = *bearer = NULL;
	if (mb->password_env) {
		const char *v = getenv(mb->password_env);
		if (!v || !*v)
			return err_set(e, ERR_CONFIG,
			               "[mailbox %s]: environment variable %s (password_env) is "
			               "not set",
			               mb->name, mb->password_env);
		*password = xstrdup(v);
		return 0;
	}
	const char *file = mb->password_file ? mb->password_file : mb->oauth2_token_file;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return err_set(e, ERR_CONFIG, "[mailbox %s]: cannot read %s: %s", mb->name,
			               file, strerror(errno));
		char *where = xasprintf("[mailbox %s]", mb->name);
		int rc =
		    first_line(f, mb->password_file ? password : bearer,
		               mb->password_file ? "password_file" : "oauth2_token_file", where, e);
		free(where);
		fclose(f);
		return rc;
	}
	if (mb->oauth2_token_command) {
		fflush(stdout);
		FILE *p = popen(mb->oauth2_token_command, "r");
		if (!p)
			return err_set(e, ERR_CONFIG,
			               "[mailbox %s]: cannot run oauth2_token_command: %s",
			               mb->name, strerror(errno));
		char *where = xasprintf("[mailbox %s]", mb->name);
		int rc = first_line(p, bearer, "the output of oauth2_token_command", where, e);
		free(where);
		/* Drain, so the command does not die of SIGPIPE and report failure. */
		while (fgetc(p) != EOF)
			;
		int st = pclose(p);
		if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			config_secret_free(*bearer);
			*bearer = NULL;
			return err_set(e, ERR_CONFIG,
			               "[mailbox %s]: oauth2_token_command failed (exit status %d)",
			               mb->name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		}
		return rc;
	}
	return err_set(e, ERR_CONFIG, "[mailbox %s] has no password or token configured", mb->name);
}
