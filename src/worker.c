/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background worker of pg_stat_monitor.
 *
 * One worker per server, started when the library is preloaded.  It wakes
 * at every bucket boundary, and whenever a backend finds the store past
 * its high-water mark, and then either exports the store to tables
 * (export.c) or, when export is off or the server is a standby, forgets
 * the buckets that fell out of the pgsm_max_buckets window.
 *
 * It connects to pg_stat_monitor.pgsm_database and does nothing with
 * tables until the extension exists there; each step runs in its own short
 * transaction.  SIGTERM ends it at the next interrupt check, even in the
 * middle of an export: the batch being written then stays in the store, and
 * the next worker, or the next server start, writes it.
 *
 * The materialized view is refreshed by a second, short-lived worker that
 * this one starts at each bucket boundary, so that exporting never waits
 * for a refresh: a store that fills while the view is being refreshed is
 * emptied all the same.
 *
 * Locking: none of its own; see store.c for the store's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgsm.h"

/* Register the worker; called from _PG_init when preloaded. */
void
pgsm_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "pg_stat_monitor", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgsm_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pg_stat_monitor worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, PGSM_NAME, BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

static void
worker_detach(int code, Datum arg)
{
	pgsm_store_set_worker_latch(NULL);
}

/* Milliseconds until the next bucket starts, at least 10. */
static long
ms_to_next_bucket(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = pgsm_bucket_start(pgsm_current_bucket(now) + 1);

	return Max(10, (long) ((next - now) / 1000) + 1);
}

/*
 * Settings that decide what the worker's SQL means and as whom it runs.
 * Both workers are superusers, and a database owner (not a superuser) may
 * attach settings to the database (ALTER DATABASE ... SET) that every
 * session, a worker's included, starts with.  These override them: names
 * are looked up in pg_catalog only (never in "$user" or public, where
 * others may create objects), the worker stays the superuser it connected
 * as (session_authorization and role), and its writes are not made
 * read-only.
 */
static void
pin_settings(void)
{
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);
	/* looking the role's name up needs a transaction */
	StartTransactionCommand();
	SetConfigOption("session_authorization",
					GetUserNameFromId(GetAuthenticatedUserId(), false),
					PGC_SUSET, PGC_S_OVERRIDE);
	CommitTransactionCommand();
	SetConfigOption("role", "none", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET,
					PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);
}

void
pgsm_worker_main(Datum arg)
{
	int64		last_bucket = -1;

	pgsm_in_worker = true;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(pgsm_database, NULL, 0);
	pgstat_report_appname("pg_stat_monitor worker");

	/* never wait long on a lock held by someone else: try again later */
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "60s", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Backends fill the store while an export waits for its commit to reach
	 * disk, and nothing is gained by waiting: a crash loses the store anyway,
	 * and a batch written twice is caught by pg_stat_monitor_exports.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	pin_settings();

	pgsm_store_set_worker_latch(MyLatch);
	on_shmem_exit(worker_detach, (Datum) 0);

	for (;;)
	{
		int64		bucket = pgsm_current_bucket(GetCurrentTimestamp());
		bool		boundary = bucket != last_bucket;

		/*
		 * The first cycle counts as a boundary, so that what a restart
		 * brought back from disk is exported at once.
		 */
		if (boundary || pgsm_store_flush_wanted())
		{
			if (pgsm_enable_table_export && !RecoveryInProgress())
				pgsm_export_cycle(boundary, bucket - 1);
			else
				pgsm_store_discard_buckets_before(bucket - pgsm_max_buckets + 1);
		}
		last_bucket = bucket;

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms_to_next_bucket(), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

/* The refresh worker last started, if any */
static BackgroundWorkerHandle *refresh_handle = NULL;

/*
 * Start a worker that refreshes the materialized view pg_stat_monitor in
 * the given (quoted) schema, unless the last one is still at it.  Returns
 * false when none could be started.
 */
bool
pgsm_refresh_launch(const char *schema)
{
	BackgroundWorker worker;
	pid_t		pid;

	if (refresh_handle != NULL &&
		GetBackgroundWorkerPid(refresh_handle, &pid) != BGWH_STOPPED)
		return true;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pg_stat_monitor", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgsm_refresh_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pg_stat_monitor refresh", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pg_stat_monitor refresh", BGW_MAXLEN);
	strlcpy(worker.bgw_extra, schema, BGW_EXTRALEN);
	worker.bgw_notify_pid = MyProcPid;

	if (refresh_handle != NULL)
		pfree(refresh_handle);
	refresh_handle = NULL;
	return RegisterDynamicBackgroundWorker(&worker, &refresh_handle);
}

/* Refresh pg_stat_monitor once, then exit. */
void
pgsm_refresh_main(Datum arg)
{
	char		sql[BGW_EXTRALEN + 64];

	pgsm_in_worker = true;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(pgsm_database, NULL, 0);
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
	/* adding up a window of buckets is one large aggregation */
	SetConfigOption("work_mem", "64MB", PGC_SUSET, PGC_S_OVERRIDE);
	pin_settings();

	snprintf(sql, sizeof(sql),
			 "REFRESH MATERIALIZED VIEW CONCURRENTLY %s.pg_stat_monitor",
			 MyBgworkerEntry->bgw_extra);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not refresh pg_stat_monitor");
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}
