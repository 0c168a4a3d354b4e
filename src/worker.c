/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background worker of pg_stat_monitor.
 *
 * One worker per server, started when the library is preloaded.  It wakes
 * at every bucket boundary, and whenever a backend finds the store past
 * its high-water mark, and then either exports the store to tables, its
 * own or a repository's (export.c), or, when export is off or the server
 * is a standby with no repository to export to, forgets the buckets that
 * fell out of the pgsm_max_buckets window.
 *
 * It connects to pg_stat_monitor.pgsm_database and does nothing with
 * tables until the extension exists there; each step runs in its own short
 * transaction.  Until that database exists, it waits unconnected (a worker
 * that connects to a missing database ends with FATAL), rotating the store
 * as the collector alone would; a short-lived worker connected to no
 * database tells it when the database appears.  SIGTERM ends it at the next interrupt check, even in the
 * middle of an export: the batch being written then stays in the store, and
 * the next worker, or the next server start, writes it.
 *
 * The materialized view is refreshed by a second, short-lived worker that
 * this one starts at each bucket boundary, so that exporting never waits
 * for a refresh: a store that fills while the view is being refreshed is
 * emptied all the same.
 *
 * Locking: the store's is store.c's.  Every transaction of a worker that
 * reads or writes the extension's tables locks the history table, then the
 * extension, before anything else (pgsm_lock_history), so that neither
 * DROP TABLE nor DROP EXTENSION can deadlock with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
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
	int64		bucket = pgsm_current_bucket(now);
	TimestampTz next = pgsm_bucket_end(bucket, pgsm_bucket_length(bucket));

	return Max(10, (long) ((next - now) / 1000) + 1);
}

/* Wait for the latch, a bucket boundary or at most max_ms; reload settings. */
static void
worker_wait(long max_ms)
{
	(void) WaitLatch(MyLatch,
					 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Min(ms_to_next_bucket(), max_ms), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();

	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		pgsm_schedule_update(GetCurrentTimestamp(), pgsm_bucket_time);
	}
}

/*
 * A worker of this library that runs once, for this process: it is never
 * restarted, and this process is told when it stops.
 */
static void
short_lived_worker(BackgroundWorker *worker, const char *function,
				   const char *name, BgWorkerStartTime start)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = start;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker->bgw_library_name, "pg_stat_monitor", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker->bgw_name, name, BGW_MAXLEN);
	strlcpy(worker->bgw_type, name, BGW_MAXLEN);
	worker->bgw_notify_pid = MyProcPid;
}

/*
 * Does pg_stat_monitor.pgsm_database exist?  Asked of a short-lived worker
 * connected to no database, which can read the shared catalog pg_database.
 * When that worker cannot be started, or says nothing, the answer is yes:
 * connecting is then the only way to find out.
 */
static bool
database_exists(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PgsmWorkerStats ws;

	pgsm_store_worker_stats(&ws, NULL);
	ws.database_found = -1;
	pgsm_store_worker_stats(NULL, &ws);

	short_lived_worker(&worker, "pgsm_check_database_main",
					   "pg_stat_monitor database check",
					   BgWorkerStart_ConsistentState);

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return true;
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	pfree(handle);

	pgsm_store_worker_stats(&ws, NULL);
	return ws.database_found != 0;
}

/*
 * Is a database of that name in pg_database?  Without a database of its own
 * a process can read the shared catalogs, but not through their indexes, so
 * this scans the catalog.
 */
static bool
database_listed(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!found &&
		   (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		found = strcmp(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname),
					   name) == 0;
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return found;
}

/* Look up pg_stat_monitor.pgsm_database for the main worker, then exit. */
void
pgsm_check_database_main(Datum arg)
{
	PgsmWorkerStats ws;
	bool		found;

	pgsm_in_worker = true;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	found = database_listed(pgsm_database);

	pgsm_store_worker_stats(&ws, NULL);
	ws.database_found = found ? 1 : 0;
	pgsm_store_worker_stats(NULL, &ws);
}

/*
 * Wait, unconnected, until pg_stat_monitor.pgsm_database exists: look at
 * every bucket boundary and at least every ten seconds, and meanwhile
 * forget buckets that fall out of the window, as without export.  Says so
 * once in the log and in pg_stat_monitor_info.
 */
static void
wait_for_database(void)
{
	bool		waited = false;

	while (!database_exists())
	{
		if (!waited)
		{
			PgsmWorkerStats ws;

			ereport(LOG,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("pg_stat_monitor worker is waiting for database \"%s\" to be created",
							pgsm_database),
					 errdetail("Until then, statistics are kept in shared memory only, for the last pg_stat_monitor.pgsm_max_buckets buckets."),
					 errhint("Create the database, or set \"pg_stat_monitor.pgsm_database\" to an existing database and restart the server.")));
			pgsm_store_worker_stats(&ws, NULL);
			ws.last_error_time = GetCurrentTimestamp();
			snprintf(ws.last_error, sizeof(ws.last_error),
					 "database \"%s\" does not exist", pgsm_database);
			pgsm_store_worker_stats(NULL, &ws);
			waited = true;
		}
		pgsm_store_discard_buckets_before(pgsm_window_first(GetCurrentTimestamp()));
		worker_wait(10 * 1000);
	}
	if (waited)
		ereport(LOG,
				(errmsg("pg_stat_monitor worker found database \"%s\"",
						pgsm_database)));
}

/* Say in the log when pgsm_enable_table_export turns export off or on. */
static void
report_export_setting(void)
{
	static int	reported = -1;

	if (reported == (int) pgsm_enable_table_export)
		return;
	if (!pgsm_enable_table_export)
		ereport(LOG,
				(errmsg("pg_stat_monitor worker does not export: \"pg_stat_monitor.pgsm_enable_table_export\" is off"),
				 errdetail("The store keeps the last pg_stat_monitor.pgsm_max_buckets buckets.")));
	else if (reported == 0)
		ereport(LOG,
				(errmsg("pg_stat_monitor worker exports again: \"pg_stat_monitor.pgsm_enable_table_export\" is on")));
	reported = (int) pgsm_enable_table_export;
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

/*
 * Keep the memory the worker frees for its next batches, and map the store
 * before the first of them (pgsm_store_touch).  Each export copies the
 * frozen entries, 1 MB at defaults, and keeps the copy until the totals
 * have it; glibc hands blocks that large back to the kernel when they are
 * freed, and the next batch then meets every page of its copy with a page
 * fault (14 us each on the machine of BENCHMARKS.md: 3.6 ms a megabyte).
 * Kept: up to the store's size and maintenance_work_mem, what the worker
 * holds at most, a copy of the store and the batches waiting for the
 * totals.  glibc gives no block above 32 MB from its heap, whatever it is
 * told.
 */
static void
worker_memory(void)
{
	Size		keep = pgsm_store_touch() + (Size) maintenance_work_mem * 1024;

#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD)
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, (int) Min(keep, (Size) INT_MAX));
#else
	(void) keep;
#endif
}

void
pgsm_worker_main(Datum arg)
{
	int64		last_bucket = -1;

	pgsm_in_worker = true;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	pgsm_store_set_worker_latch(MyLatch);
	on_shmem_exit(worker_detach, (Datum) 0);

	wait_for_database();
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
	worker_memory();

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		int64		bucket;
		bool		boundary;
		/* a standby exports only to a repository: its own tables are read-only */
		bool		exporting = pgsm_enable_table_export &&
			((pgsm_export_target && pgsm_export_target[0] != '\0') ||
			 !RecoveryInProgress());

		pgsm_schedule_update(now, pgsm_bucket_time);
		report_export_setting();
		bucket = pgsm_current_bucket(now);
		boundary = bucket != last_bucket;

		/*
		 * The first cycle counts as a boundary, so that what a restart
		 * brought back from disk is exported at once.
		 */
		if (boundary || pgsm_store_flush_wanted())
		{
			if (exporting)
				pgsm_export_cycle(boundary, pgsm_previous_bucket(bucket));
			else
				pgsm_store_discard_buckets_before(pgsm_window_first(now));
		}
		last_bucket = bucket;

		/*
		 * A store still to be emptied (more than one batch, or an export that
		 * failed and waits to be tried again) is looked at again within a
		 * second, rather than at the next boundary: no backend may wake the
		 * worker again, since the request it would make is still pending.
		 */
		worker_wait(exporting && pgsm_store_flush_wanted() ? 1000 : LONG_MAX);
	}
}

/*
 * Start a short-lived worker of the extension in the given (quoted) schema,
 * unless the one last started through *handle is still running.  Returns
 * false when none could be started.
 */
static bool
launch_once(BackgroundWorkerHandle **handle, const char *function,
			const char *name, const char *schema, Datum arg)
{
	BackgroundWorker worker;
	pid_t		pid;

	if (*handle != NULL &&
		GetBackgroundWorkerPid(*handle, &pid) != BGWH_STOPPED)
		return true;

	short_lived_worker(&worker, function, name, BgWorkerStart_RecoveryFinished);
	strlcpy(worker.bgw_extra, schema, BGW_EXTRALEN);
	worker.bgw_main_arg = arg;

	if (*handle != NULL)
		pfree(*handle);
	*handle = NULL;
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/*
 * What a short-lived worker started by launch_once() does first: connect to
 * pgsm_database with the settings every statement of the extension's
 * workers runs under; one large query (aggregation or sort) is given more
 * memory than the default.
 */
static void
schema_worker_start(void)
{
	pgsm_in_worker = true;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(pgsm_database, NULL, 0);
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("work_mem", "64MB", PGC_SUSET, PGC_S_OVERRIDE);
	pin_settings();
}

/* End the transaction of a short-lived worker. */
static void
schema_worker_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Begin the one transaction of a short-lived worker, reporting "activity",
 * and lock the history table named in "mode" (pgsm_lock_history).  Returns
 * false, the transaction ended, when that table is gone: the extension was
 * dropped since the worker was asked for, and there is nothing to do.
 */
static bool
schema_worker_begin(const char *table, const char *mode, const char *activity)
{
	Oid			type = TEXTOID;
	Datum		name;
	bool		gone;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);

	name = CStringGetTextDatum(psprintf("%s.%s", MyBgworkerEntry->bgw_extra, table));
	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass($1)", 1, &type,
							  &name, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not look up %s.%s", MyBgworkerEntry->bgw_extra, table);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &gone);
	if (gone)
	{
		ereport(DEBUG1,
				(errmsg_internal("pg_stat_monitor: %s.%s is gone, nothing to do",
								 MyBgworkerEntry->bgw_extra, table)));
		schema_worker_end();
		return false;
	}
	pgsm_lock_history(MyBgworkerEntry->bgw_extra, table, mode);
	return true;
}

/*
 * Lock the history table (its parent alone) in "mode", then the extension,
 * before anything else the transaction touches.
 *
 * Dropping either takes the other's locks in the other order.  DROP TABLE
 * of the history table (which drops the extension with it) locks that
 * table first, then the views over it, the extension and its other
 * tables; DROP EXTENSION locks the extension first, then its tables in the
 * order they were made.  So the worker waits for the table, holding
 * nothing a DROP of it could want, and only tries the extension: a DROP
 * EXTENSION that holds it may be waiting for this very transaction, which
 * then gives way with an error rather than deadlock with it (and the
 * deadlock might have ended the user's DROP rather than the worker).
 */
void
pgsm_lock_history(const char *schema, const char *table, const char *mode)
{
	char	   *sql = psprintf("LOCK TABLE ONLY %s.%s IN %s MODE",
							   schema, table, mode);
	Oid			ext;

	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock %s.%s", schema, table);
	pfree(sql);

	ext = get_extension_oid(PGSM_NAME, true);
	if (!OidIsValid(ext) ||
		!ConditionalLockDatabaseObject(ExtensionRelationId, ext, 0,
									   AccessShareLock))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("extension \"%s\" is being dropped or changed", PGSM_NAME),
				 errhint("The worker tries again later.")));
}

/* The refresh worker last started, if any */
static BackgroundWorkerHandle *refresh_handle = NULL;

/*
 * Start a worker that refreshes the materialized view of the last buckets
 * in the given (quoted) schema, unless the last one is still at it:
 * pgsm_recent, what pg_stat_monitor shows in pgsm_database, or before
 * version 2.4 pg_stat_monitor itself (old_name).  Returns false when none
 * could be started.
 */
bool
pgsm_refresh_launch(const char *schema, bool old_name)
{
	return launch_once(&refresh_handle, "pgsm_refresh_main",
					   "pg_stat_monitor refresh", schema, BoolGetDatum(old_name));
}

/* Refresh the view once, then exit. */
void
pgsm_refresh_main(Datum arg)
{
	char		sql[BGW_EXTRALEN + 64];

	schema_worker_start();

	snprintf(sql, sizeof(sql),
			 "REFRESH MATERIALIZED VIEW CONCURRENTLY %s.%s",
			 MyBgworkerEntry->bgw_extra,
			 DatumGetBool(arg) ? "pg_stat_monitor" : "pgsm_recent");

	if (!schema_worker_begin(DatumGetBool(arg) ? "pg_stat_monitor_data" : "pg_stat_monitor_entries",
							 "ACCESS SHARE", sql))
		return;
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not refresh pg_stat_monitor");
	schema_worker_end();
	ereport(DEBUG1,
			(errmsg_internal("pg_stat_monitor: refreshed materialized view")));
}

/* The compaction worker last started, if any */
static BackgroundWorkerHandle *compact_handle = NULL;

/*
 * Start a worker that compacts what history has due for compaction
 * (pgsm_compact_due() in the given, quoted, schema), unless the last one is
 * still at it.  A worker of its own, so that neither the export nor the
 * refresh of the view waits for a day being compacted.  Returns false when
 * none could be started.
 */
bool
pgsm_compact_launch(const char *schema)
{
	return launch_once(&compact_handle, "pgsm_compact_main",
					   "pg_stat_monitor compact", schema, (Datum) 0);
}

/* Compact what is due, in one transaction, then exit. */
void
pgsm_compact_main(Datum arg)
{
	char		sql[BGW_EXTRALEN + 64];
	int64		entries = 0;

	schema_worker_start();
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	snprintf(sql, sizeof(sql), "SELECT %s.pgsm_compact_due()",
			 MyBgworkerEntry->bgw_extra);

	if (!schema_worker_begin("pg_stat_monitor_entries", "ROW EXCLUSIVE", sql))
		return;
	if (SPI_execute(sql, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not compact pg_stat_monitor history");
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			entries = DatumGetInt64(d);
	}
	schema_worker_end();
	ereport(DEBUG1,
			(errmsg_internal("pg_stat_monitor: compacted " INT64_FORMAT " entries",
							 entries)));
}
