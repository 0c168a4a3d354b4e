/*-------------------------------------------------------------------------
 *
 * remote.c
 *		The worker's connection to a repository: another PostgreSQL server,
 *		named by pg_stat_monitor.pgsm_export_target, that holds history.
 *
 * Only the mechanics of libpq live here: connecting, running a statement,
 * sending a COPY stream, each without blocking on the network for longer
 * than a timeout and without ever ignoring the worker's interrupts (every
 * wait is on the worker's latch and the socket).  What is written, and in
 * which transaction, is the exporter's business (export.c, its remote
 * destination).
 *
 * The connection is kept across batches.  Any error drops it, which also
 * ends a remote transaction left open, and the next export connects again;
 * a change of the target string drops it too.  Errors are reported with
 * libpq's message, which names the server but never the password.
 *
 * Only the worker uses this file; it holds no lock while waiting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "pgsm.h"

/* How long the repository may take to accept a connection, or to answer */
#define CONNECT_TIMEOUT_MS	(10 * 1000)
#define ANSWER_TIMEOUT_MS	(60 * 1000)

static PGconn *conn = NULL;
static char *conn_target = NULL;	/* the target string it was made with */
static char *remote_schema = NULL;	/* the extension's schema, quoted */
static int	remote_version = 0;

/* Drop the connection (and with it any transaction it had open). */
void
pgsm_remote_close(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
}

/* Drop the connection and fail with libpq's message. */
static void
remote_fail(const char *what)
{
	char	   *msg = pstrdup(conn ? PQerrorMessage(conn) : "out of memory");
	int			len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	pgsm_remote_close();
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("could not %s on the repository: %s", what, msg)));
}

/*
 * Wait for the socket to be ready for "events", or for the deadline.  The
 * worker's latch is waited on too, so that SIGTERM is seen.  A wake-up
 * meant for the worker's main loop loses nothing: what it asks for (a
 * flush, a reload) is a flag the loop reads anyway.
 */
static void
remote_wait(int events, TimestampTz deadline, const char *what)
{
	for (;;)
	{
		long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
														 deadline);
		int			rc;

		if (ms <= 0)
		{
			pgsm_remote_close();
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not %s on the repository: timed out", what)));
		}
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
							   PQsocket(conn), ms, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & events)
			return;
	}
}

/* Send what libpq holds for the server. */
static void
remote_flush(TimestampTz deadline, const char *what)
{
	for (;;)
	{
		int			r = PQflush(conn);

		if (r == 0)
			return;
		if (r < 0)
			remote_fail(what);
		remote_wait(WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE, deadline, what);
		if (!PQconsumeInput(conn))
			remote_fail(what);
	}
}

/*
 * The result of the statement sent: the last one, or the first that asks
 * for COPY data.  The caller clears it.
 */
static PGresult *
remote_result(const char *what)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   ANSWER_TIMEOUT_MS);
	PGresult   *last = NULL;

	remote_flush(deadline, what);
	for (;;)
	{
		PGresult   *res;

		while (PQisBusy(conn))
		{
			remote_wait(WL_SOCKET_READABLE, deadline, what);
			if (!PQconsumeInput(conn))
			{
				PQclear(last);
				remote_fail(what);
			}
		}
		res = PQgetResult(conn);
		if (res == NULL)
			return last;
		PQclear(last);
		last = res;
		if (PQresultStatus(res) == PGRES_COPY_IN)
			return res;
	}
}

/* Fail with the repository's error from res, which is cleared. */
static void
result_fail(PGresult *res, const char *what)
{
	char	   *msg = pstrdup(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	char	   *hint = res && PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) ?
		pstrdup(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) : NULL;
	int			len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	PQclear(res);
	pgsm_remote_close();
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("could not %s on the repository: %s", what, msg),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * Run one statement with text parameters.  Returns the rows it returned
 * (or affected).  The first value of the first row, if any, goes to
 * *first when first is given.
 */
int
pgsm_remote_exec(const char *sql, int nparams, const char *const *values,
				 char **first)
{
	PGresult   *res;
	ExecStatusType st;
	int			n;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0))
		remote_fail("send a statement");
	res = remote_result("run a statement");
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		result_fail(res, "run a statement");
	n = st == PGRES_TUPLES_OK ? PQntuples(res) : atoi(PQcmdTuples(res));
	if (first)
		*first = (st == PGRES_TUPLES_OK && n > 0 && !PQgetisnull(res, 0, 0)) ?
			pstrdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return n;
}

/*
 * Run a COPY ... FROM STDIN and send it the stream "read" gives (the
 * signature of pgsm_batch_read: at least minread bytes unless the stream
 * ends, 0 at its end).  Returns the rows copied.
 */
uint64
pgsm_remote_copy(const char *sql, int (*read) (void *arg, void *out, int minread, int maxread),
				 void *arg)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   ANSWER_TIMEOUT_MS);
	char	   *buf = palloc(64 * 1024);
	PGresult   *res;
	uint64		rows;
	int			n;

	if (!PQsendQuery(conn, sql))
		remote_fail("send COPY");
	res = remote_result("start COPY");
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN)
		result_fail(res, "start COPY");
	PQclear(res);

	while ((n = read(arg, buf, 1, 64 * 1024)) > 0)
	{
		int			r;

		while ((r = PQputCopyData(conn, buf, n)) == 0)
			remote_wait(WL_SOCKET_WRITEABLE, deadline, "send COPY data");
		if (r < 0)
			remote_fail("send COPY data");
	}
	{
		int			r;

		while ((r = PQputCopyEnd(conn, NULL)) == 0)
			remote_wait(WL_SOCKET_WRITEABLE, deadline, "end COPY");
		if (r < 0)
			remote_fail("end COPY");
	}
	res = remote_result("end COPY");
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		result_fail(res, "copy rows");
	rows = strtou64(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	pfree(buf);
	return rows;
}

/* Connect, without waiting on the network longer than CONNECT_TIMEOUT_MS. */
static void
remote_connect(void)
{
	/*
	 * The target's own settings come first and win, except the encoding:
	 * texts are sent as this database has them, and the repository
	 * converts them.
	 */
	const char *keywords[] = {"connect_timeout", "dbname",
		"fallback_application_name", "client_encoding", NULL};
	const char *values[] = {"10", pgsm_export_target,
		"pg_stat_monitor worker", GetDatabaseEncodingName(), NULL};
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   CONNECT_TIMEOUT_MS);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char	   *ver;

	conn = PQconnectStartParams(keywords, values, 1);
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (PQstatus(conn) == CONNECTION_BAD)
		remote_fail("connect");
	while (st != PGRES_POLLING_OK)
	{
		if (st == PGRES_POLLING_FAILED)
			remote_fail("connect");
		remote_wait(st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
					deadline, "connect");
		st = PQconnectPoll(conn);
	}
	if (PQsetnonblocking(conn, 1) != 0)
		remote_fail("connect");

	/*
	 * Names resolve in pg_catalog alone, as in the worker's own database,
	 * and no statement or lock waits for long.
	 */
	(void) pgsm_remote_exec("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false),"
							" pg_catalog.set_config('lock_timeout', '5s', false),"
							" pg_catalog.set_config('statement_timeout', '60s', false)",
							0, NULL, NULL);

	if (pgsm_remote_exec("SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) e.extversion"
						 " FROM pg_catalog.pg_extension e"
						 " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
						 " WHERE e.extname OPERATOR(pg_catalog.=) 'pg_stat_monitor'",
						 0, NULL, &ver) == 0 || ver == NULL)
	{
		pgsm_remote_close();
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the repository has no extension \"pg_stat_monitor\""),
				 errhint("Run CREATE EXTENSION pg_stat_monitor in the repository's database named by \"pg_stat_monitor.pgsm_export_target\".")));
	}
	{
		char	   *sp = strrchr(ver, ' ');
		int			major = 0;
		int			minor = 0;

		*sp = '\0';
		(void) sscanf(sp + 1, "%d.%d", &major, &minor);
		if (remote_schema)
			pfree(remote_schema);
		remote_schema = MemoryContextStrdup(TopMemoryContext, ver);
		remote_version = major * 100 + minor;
	}
}

/*
 * The connection to the repository, made if there is none (or the target
 * changed).  Returns the quoted schema of the repository's extension and
 * its version (major * 100 + minor) in *version.
 */
const char *
pgsm_remote_open(int *version)
{
	if (conn && (conn_target == NULL || strcmp(conn_target, pgsm_export_target) != 0))
		pgsm_remote_close();
	if (conn && PQstatus(conn) != CONNECTION_OK)
		pgsm_remote_close();
	if (conn == NULL)
	{
		if (conn_target)
			pfree(conn_target);
		conn_target = MemoryContextStrdup(TopMemoryContext, pgsm_export_target);
		remote_connect();
	}
	*version = remote_version;
	return remote_schema;
}
