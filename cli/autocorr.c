/*
 * autocorr: see cli/autocorr.h.
 */
#include "cli/autocorr.h"

#include "app/correlate.h"
#include "app/notify.h"
#include "cli/common.h"
#include "cli/config.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>

struct config *autocorr_config(const char *config_opt)
{
	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	if (config_find(config_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		log_warn("%s; using the defaults", e.msg);
		free(path);
		config_load(&cfg, NULL, &e);
		return cfg;
	}
	free(path);
	for (size_t i = 0; i < cfg->n_errors; i++)
		log_warn("%s", cfg->errors[i]);
	return cfg;
}

bool autocorr_hook(const struct config *cfg, struct notify_hook *h, char **secret)
{
	*secret = NULL;
	if (!cfg || !cfg->notify.webhook)
		return false;
	struct err e = {0};
	if (config_read_secret("notify", cfg->notify.secret_file, cfg->notify.secret_env, secret,
	                       &e) != 0) {
		log_warn("%s; new flags are not posted", e.msg);
		return false;
	}
	*h = (struct notify_hook){
	    .url = cfg->notify.webhook,
	    .secret = *secret,
	    .retries = cfg->notify.retries,
	    .backoff_ms = 1000,
	    .timeout_s = 10,
	};
	return true;
}

int autocorr_run(struct db *db, const struct config *cfg, bool quiet)
{
	struct err e = {0};
	struct flags_stats st = {0};
	struct correlate_scope scope = {0};
	struct correlate_settings s;
	struct notify_hook hook;
	char *secret = NULL;
	correlate_settings_default(&s);
	if (cfg)
		s = cfg->correlate;
	if (autocorr_hook(cfg, &hook, &secret))
		scope.notify = &hook;
	int rc = correlate_run(db, &s, &scope, &st, &e);
	config_secret_free(secret);
	if (rc != 0) {
		log_error("correlation failed (what changed stays queued for the "
		          "next run)");
		return cli_fail(&e);
	}
	if (!quiet)
		fprintf(stderr,
		        "correlated: %llu groups, %llu new flags, %llu changed, %llu resolved\n",
		        (unsigned long long)st.groups, (unsigned long long)st.created,
		        (unsigned long long)st.changed, (unsigned long long)st.resolved);
	return 0;
}
