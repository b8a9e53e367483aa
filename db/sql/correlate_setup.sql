-- correlate_setup: the scratch tables of one correlation run (one
-- transaction; db/correlate.c). corr_params holds the run's settings so the
-- later statements, which create tables from queries, need no parameters.
CREATE TEMP TABLE corr_params (
	fail_below   double precision NOT NULL, -- DMARC pass rate below: auth-driven
	pass_at      double precision NOT NULL, -- at or above: authentication is fine
	min_messages bigint NOT NULL,           -- aggregate volume a data verdict needs
	resolve      interval NOT NULL,         -- quiet time that resolves a flag
	scope_tenant integer,                   -- NULL: every tenant
	since        date,                      -- NULL: from the beginning
	until        date,                      -- NULL: to the end (inclusive)
	part         integer NOT NULL,          -- this run's share of the tenants:
	parts        integer NOT NULL,          --   tenant_id % parts = part
	full_run     boolean NOT NULL           -- recompute from the rows, no kept state
) ON COMMIT DROP;
-- The provider map's (org name, provider) pairs, org names lower case.
CREATE TEMP TABLE corr_orgs (
	org      text NOT NULL,
	provider text NOT NULL,
	PRIMARY KEY (org, provider)
) ON COMMIT DROP;
-- The groups to recompute: (tenant, provider, From domain, sending IP or '').
-- gid numbers them: the later statements sort, group and join on it, not
-- on the three text columns (text comparisons were much of their time).
-- The rest says what a pass over the groups reads (correlate_state_*.sql):
-- the day rows in [lo, hi), with the kept state (dmarcsift.flag_state) of
-- the group when pseudo, which covers what lies before lo.
CREATE TEMP TABLE corr_keys (
	tenant_id integer NOT NULL,
	provider  text NOT NULL,
	domain    text NOT NULL,
	ip_key    text NOT NULL,
	gid       integer GENERATED ALWAYS AS IDENTITY UNIQUE,
	s_cut     date,                             -- the cut of a usable state
	n_cut     date,                             -- the cut of the state to write
	lo        date NOT NULL DEFAULT '-infinity',
	hi        date NOT NULL DEFAULT 'infinity',
	pseudo    boolean NOT NULL DEFAULT false,
	breaks    integer NOT NULL DEFAULT 0,       -- the state's episodes before its own
	PRIMARY KEY (tenant_id, provider, domain, ip_key)
) ON COMMIT DROP;
-- The (tenant, day)s this run took off the queue: a state whose cut lies
-- after one of its tenant's is not used (a late report or log before it).
CREATE TEMP TABLE corr_days (
	tenant_id integer NOT NULL,
	day       date NOT NULL,
	PRIMARY KEY (tenant_id, day)
) ON COMMIT DROP;
-- Tenants whose data changed: their flags' status is re-evaluated.
CREATE TEMP TABLE corr_tenants (tenant_id integer PRIMARY KEY) ON COMMIT DROP;
-- Flags this run opened or reopened (not those created already resolved):
-- what the [notify] webhook is told about.
CREATE TEMP TABLE corr_events (
	tenant_id integer NOT NULL,
	id        bigint NOT NULL,
	PRIMARY KEY (tenant_id, id)
) ON COMMIT DROP;
