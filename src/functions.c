/*-------------------------------------------------------------------------
 *
 * functions.c
 *		SQL-callable functions of pg_stat_monitor.
 *
 * These read the store through a copy (pgsm_store_snapshot), so that user
 * and database names, arrays and the like are built with no lock held.
 * Every function that reads the store fails with
 * OBJECT_NOT_IN_PREREQUISITE_STATE when the library was not preloaded.
 *
 * Helpers the views call once per row (get_cmd_type, and pgsm_add_arrays
 * through the aggregate pgsm_sum) are written in C rather than SQL: a SQL
 * function would need its own search_path to be safe when a superuser's
 * refresh runs it, and a function with a SET clause cannot be inlined and
 * pays for saving and restoring the setting at every call.
 *
 * pgsm_element reads one element of a compact row's array (the views over
 * history call it once per bucket and column read).  It keeps the last
 * array it was given, detoasted and taken apart, in its call site's
 * fn_extra, so that reading a column of a compact row element by element
 * costs one detoasting, not one per element.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/inet.h"
#include "utils/timestamp.h"

#include "pgsm.h"

PG_FUNCTION_INFO_V1(pg_stat_monitor_internal);
PG_FUNCTION_INFO_V1(pg_stat_monitor_reset);
PG_FUNCTION_INFO_V1(pg_stat_monitor_version);
PG_FUNCTION_INFO_V1(get_histogram_timings);
PG_FUNCTION_INFO_V1(pg_stat_monitor_info);
PG_FUNCTION_INFO_V1(pgsm_add_arrays);
PG_FUNCTION_INFO_V1(pgsm_element);
PG_FUNCTION_INFO_V1(get_cmd_type);
PG_FUNCTION_INFO_V1(pgsm_window_start);
PG_FUNCTION_INFO_V1(pgsm_current_bucket_start);
PG_FUNCTION_INFO_V1(pgsm_creating_extension);
PG_FUNCTION_INFO_V1(pgsm_exports_remotely);

/* Columns of pg_stat_monitor_info() */
#define PGSM_INFO_COLS		20

static const char *const insufficient_privilege = "<insufficient privilege>";

/* Name of a command type, for the PostgreSQL 15 numbering of CmdType. */
static const char *
cmd_type_name(int cmd_type)
{
	static const char *const names[] = {
		"", "SELECT", "UPDATE", "INSERT", "DELETE", "MERGE", "UTILITY",
		"NOTHING"
	};

	if (cmd_type < 0 || cmd_type >= lengthof(names))
		return "";
	return names[cmd_type];
}

static Datum
text_datum(const char *s, int len)
{
	return PointerGetDatum(cstring_to_text_with_len(s, len));
}

/* A text[] from a comma-separated list. */
static Datum
split_list(const char *s, int len)
{
	Datum	   *elems = palloc(sizeof(Datum) * (len / 2 + 1));
	int			n = 0;
	int			start = 0;

	for (int i = 0; i <= len; i++)
		if (i == len || s[i] == ',')
		{
			elems[n++] = text_datum(s + start, i - start);
			start = i + 1;
		}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

static Datum
resp_calls_datum(const PgsmEntry *e)
{
	Datum	   *elems = palloc(sizeof(Datum) * pgsm_hist_cells);
	char		buf[32];

	for (int i = 0; i < pgsm_hist_cells; i++)
	{
		snprintf(buf, sizeof(buf), "%d", e->hist[i]);
		elems[i] = CStringGetTextDatum(buf);
	}
	return PointerGetDatum(construct_array(elems, pgsm_hist_cells, TEXTOID,
										   -1, false, TYPALIGN_INT));
}

static Datum
inet_datum(const PgsmKey *key)
{
	char		buf[INET6_ADDRSTRLEN];

	inet_ntop(key->addr_family == 4 ? AF_INET : AF_INET6, key->addr,
			  buf, sizeof(buf));
	return DirectFunctionCall1(inet_in, CStringGetDatum(buf));
}

static Datum
uint64_numeric(uint64 v)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), UINT64_FORMAT, v);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

static double
stddev(double sum_var, int64 n)
{
	return n > 1 ? sqrt(sum_var / n) : 0.0;
}

/*
 * One row of pg_stat_monitor for an entry, PGSM_COLS values.  "texts" is
 * the snapshot's text area; "masked" hides what other users must not see.
 * The exporter builds its rows with this too.
 */
void
pgsm_entry_row(const PgsmEntry *e, const char *texts, bool showtext, bool masked,
		  TimestampTz now, Datum *values, bool *nulls)
{
	const PgsmKey *k = &e->key;
	const PgsmCounters *c = &e->counters;
	const char *t[PGSM_NUM_TEXTS];
	const char *p = texts + e->text_offset;
	char	   *name;
	char		sqlstate[6];
	int			i = 0;

	for (int kind = 0; kind < PGSM_NUM_TEXTS; kind++)
	{
		t[kind] = p;
		p += e->text_len[kind];
	}

#define TEXT_OR_NULL(kind) \
	do { \
		if (e->text_len[kind] > 0) \
			values[i] = text_datum(t[kind], e->text_len[kind]); \
		else \
			nulls[i] = true; \
		i++; \
	} while (0)
#define MASKED_TEXT(kind) \
	do { \
		if (masked && e->text_len[kind] > 0) \
			values[i++] = CStringGetTextDatum(insufficient_privilege); \
		else \
			TEXT_OR_NULL(kind); \
	} while (0)

	values[i++] = Int64GetDatum(pgsm_bucket_number(k->bucket, e->bucket_len));
	values[i++] = TimestampTzGetDatum(pgsm_bucket_start(k->bucket));
	/*
	 * The names kept with the entry, which outlive the role or database;
	 * an entry made where they could not be read (by the error hook, early
	 * in a session) looks them up now.
	 */
	values[i++] = ObjectIdGetDatum(k->userid);
	name = e->text_len[PGSM_TEXT_USERNAME] > 0 ? NULL :
		GetUserNameFromId(k->userid, true);
	if (e->text_len[PGSM_TEXT_USERNAME] > 0)
		values[i++] = text_datum(t[PGSM_TEXT_USERNAME],
								 e->text_len[PGSM_TEXT_USERNAME]);
	else if (name)
		values[i++] = CStringGetTextDatum(name);
	else
		nulls[i++] = true;
	values[i++] = ObjectIdGetDatum(k->dbid);
	name = e->text_len[PGSM_TEXT_DATNAME] > 0 ? NULL :
		get_database_name(k->dbid);
	if (e->text_len[PGSM_TEXT_DATNAME] > 0)
		values[i++] = text_datum(t[PGSM_TEXT_DATNAME],
								 e->text_len[PGSM_TEXT_DATNAME]);
	else if (name)
		values[i++] = CStringGetTextDatum(name);
	else
		nulls[i++] = true;
	if (k->addr_family != 0 && !masked)
		values[i++] = inet_datum(k);
	else
		nulls[i++] = true;
	if (e->pgsm_query_id != 0)
		values[i++] = Int64GetDatum(e->pgsm_query_id);
	else
		nulls[i++] = true;
	/* an overflow row has no query id: it stands for many statements */
	if (!k->overflow)
		values[i++] = Int64GetDatum(k->queryid);
	else
		nulls[i++] = true;
	values[i++] = BoolGetDatum(k->toplevel);
	if (k->top_queryid != 0)
		values[i++] = Int64GetDatum(k->top_queryid);
	else
		nulls[i++] = true;
	if (showtext)
		MASKED_TEXT(PGSM_TEXT_QUERY);
	else
		nulls[i++] = true;
	MASKED_TEXT(PGSM_TEXT_COMMENTS);
	if (k->planid != 0)
		values[i++] = Int64GetDatum(k->planid);
	else
		nulls[i++] = true;
	MASKED_TEXT(PGSM_TEXT_PLAN);
	MASKED_TEXT(PGSM_TEXT_TOP_QUERY);
	TEXT_OR_NULL(PGSM_TEXT_APPNAME);
	if (e->text_len[PGSM_TEXT_RELATIONS] > 0)
		values[i++] = masked ?
			split_list(insufficient_privilege, strlen(insufficient_privilege)) :
			split_list(t[PGSM_TEXT_RELATIONS],
					   e->text_len[PGSM_TEXT_RELATIONS]);
	else
		nulls[i++] = true;
	values[i++] = Int32GetDatum(e->cmd_type);
	values[i++] = CStringGetTextDatum(cmd_type_name(e->cmd_type));
	values[i++] = Int32GetDatum(k->elevel);
	if (k->sqlcode != 0)
	{
		strlcpy(sqlstate, unpack_sql_state(k->sqlcode), sizeof(sqlstate));
		values[i++] = CStringGetTextDatum(sqlstate);
	}
	else
		nulls[i++] = true;
	MASKED_TEXT(PGSM_TEXT_MESSAGE);
	values[i++] = Int64GetDatum(c->calls);
	values[i++] = Float8GetDatum(c->total_time);
	values[i++] = Float8GetDatum(c->min_time);
	values[i++] = Float8GetDatum(c->max_time);
	values[i++] = Float8GetDatum(c->mean_time);
	values[i++] = Float8GetDatum(stddev(c->sum_var_time, c->calls));
	values[i++] = Int64GetDatum(c->rows);
	values[i++] = Int64GetDatum(c->shared_blks_hit);
	values[i++] = Int64GetDatum(c->shared_blks_read);
	values[i++] = Int64GetDatum(c->shared_blks_dirtied);
	values[i++] = Int64GetDatum(c->shared_blks_written);
	values[i++] = Int64GetDatum(c->local_blks_hit);
	values[i++] = Int64GetDatum(c->local_blks_read);
	values[i++] = Int64GetDatum(c->local_blks_dirtied);
	values[i++] = Int64GetDatum(c->local_blks_written);
	values[i++] = Int64GetDatum(c->temp_blks_read);
	values[i++] = Int64GetDatum(c->temp_blks_written);
	values[i++] = Float8GetDatum(c->blk_read_time);
	values[i++] = Float8GetDatum(c->blk_write_time);
	values[i++] = Float8GetDatum(c->temp_blk_read_time);
	values[i++] = Float8GetDatum(c->temp_blk_write_time);
	values[i++] = resp_calls_datum(e);
	values[i++] = Float8GetDatum(c->cpu_user_time);
	values[i++] = Float8GetDatum(c->cpu_sys_time);
	values[i++] = Int64GetDatum(c->wal_records);
	values[i++] = Int64GetDatum(c->wal_fpi);
	values[i++] = uint64_numeric(c->wal_bytes);
	values[i++] = BoolGetDatum(pgsm_bucket_end(k->bucket, e->bucket_len) <= now);
	values[i++] = Int64GetDatum(c->plans);
	values[i++] = Float8GetDatum(c->total_plan_time);
	values[i++] = Float8GetDatum(c->min_plan_time);
	values[i++] = Float8GetDatum(c->max_plan_time);
	values[i++] = Float8GetDatum(c->mean_plan_time);
	values[i++] = Float8GetDatum(stddev(c->sum_var_plan_time, c->plans));
	values[i++] = Int64GetDatum(c->jit_functions);
	values[i++] = Float8GetDatum(c->jit_generation_time);
	values[i++] = Int64GetDatum(c->jit_inlining_count);
	values[i++] = Float8GetDatum(c->jit_inlining_time);
	values[i++] = Int64GetDatum(c->jit_optimization_count);
	values[i++] = Float8GetDatum(c->jit_optimization_time);
	values[i++] = Int64GetDatum(c->jit_emission_count);
	values[i++] = Float8GetDatum(c->jit_emission_time);

	/*
	 * Columns added in later versions of PostgreSQL, NULL where this one
	 * does not measure them
	 */
#define MEASURED(measured, datum) \
	do { \
		if (measured) \
			values[i] = (datum); \
		else \
			nulls[i] = true; \
		i++; \
	} while (0)
	MEASURED(PGSM_MEASURES_17, Float8GetDatum(c->local_blk_read_time));
	MEASURED(PGSM_MEASURES_17, Float8GetDatum(c->local_blk_write_time));
	MEASURED(PGSM_MEASURES_17, Int64GetDatum(c->jit_deform_count));
	MEASURED(PGSM_MEASURES_17, Float8GetDatum(c->jit_deform_time));
	/* an entry's statistics start when it is made, min and max included */
	values[i++] = TimestampTzGetDatum(e->first_seen);
	values[i++] = TimestampTzGetDatum(e->first_seen);
	MEASURED(PGSM_MEASURES_18, Int64GetDatum(c->wal_buffers_full));
	MEASURED(PGSM_MEASURES_18, Int64GetDatum(c->parallel_workers_to_launch));
	MEASURED(PGSM_MEASURES_18, Int64GetDatum(c->parallel_workers_launched));

#undef MEASURED
#undef TEXT_OR_NULL
#undef MASKED_TEXT

	Assert(i == PGSM_COLS);
}

/*
 * The statistics in shared memory: the bucket in progress, and finished
 * buckets not yet exported (or, without export, the last pgsm_max_buckets
 * buckets).
 */
Datum
pg_stat_monitor_internal(PG_FUNCTION_ARGS)
{
	bool		showtext = PG_GETARG_BOOL(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PgsmSnapshot snap;
	Oid			userid = GetUserId();
	bool		see_all;
	TimestampTz now;
	int64		oldest;

	pgsm_store_check_ready();
	now = GetCurrentTimestamp();
	oldest = pgsm_window_first(now);
	InitMaterializedSRF(fcinfo, 0);
	/* an extension not yet updated to 2.4 asks for the first columns only */
	if (rsinfo->setDesc->natts != PGSM_COLS &&
		rsinfo->setDesc->natts != PGSM_COLS_2_3)
		elog(ERROR, "pg_stat_monitor_internal() has %d columns, expected %d",
			 rsinfo->setDesc->natts, PGSM_COLS);

	see_all = superuser() ||
		has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS);

	pgsm_store_snapshot(&snap, false);
	for (int n = 0; n < snap.nentries; n++)
	{
		PgsmEntry  *e = PgsmSnapshotEntry(&snap, n);
		Datum		values[PGSM_COLS];
		bool		nulls[PGSM_COLS];

		/* without export, buckets past the window are about to go */
		if (!snap.exporting[n] && e->key.bucket < oldest &&
			!pgsm_enable_table_export)
			continue;

		memset(nulls, 0, sizeof(nulls));
		pgsm_entry_row(e, snap.texts, showtext,
				  !see_all && e->key.userid != userid, now, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}
	return (Datum) 0;
}

/*
 * Empty pg_stat_monitor_statements' totals in this database, if it has them
 * (from version 2.4), with the batches not yet added to them.  Run as the table's owner: whoever was granted
 * pg_stat_monitor_reset() may reset them.  Only pgsm_database has totals
 * to speak of: elsewhere the table is empty.
 */
static void
reset_totals(void)
{
	char	   *schema = NULL;
	Oid			owner = InvalidOid;
	Oid			save_userid;
	int			save_sec_context;

	SPI_connect();
	if (SPI_execute("SELECT n.nspname, c.relowner"
					" FROM pg_catalog.pg_extension e"
					" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
					" JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid"
					" WHERE e.extname OPERATOR(pg_catalog.=) 'pg_stat_monitor'"
					" AND c.relname OPERATOR(pg_catalog.=) 'pg_stat_monitor_totals'",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2,
											   &isnull));
	}
	if (schema != NULL)
	{
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(owner, save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		/*
		 * The batches waiting to be added go with them, first: their rows
		 * are locked while the worker adds them, so that it never adds
		 * them after the totals were emptied.
		 */
		if (SPI_execute(psprintf("UPDATE %s.pg_stat_monitor_exports"
								 " SET totals_pending_since = NULL"
								 " WHERE totals_pending_since IS NOT NULL",
								 quote_identifier(schema)),
						false, 0) != SPI_OK_UPDATE ||
			SPI_execute(psprintf("DELETE FROM %s.pg_stat_monitor_totals",
								 quote_identifier(schema)),
						false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not reset pg_stat_monitor_totals");
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	SPI_finish();
}

/*
 * Discard what the store holds and is not being exported, and the totals
 * of pg_stat_monitor_statements.  History stays.
 */
Datum
pg_stat_monitor_reset(PG_FUNCTION_ARGS)
{
	pgsm_store_check_ready();
	pgsm_store_reset();
	reset_totals();
	PG_RETURN_VOID();
}

Datum
pg_stat_monitor_version(PG_FUNCTION_ARGS)
{
	pgsm_store_check_ready();
	PG_RETURN_TEXT_P(cstring_to_text(PGSM_VERSION));
}

/*
 * The ranges of the response-time histogram, in msec, as a comma-separated
 * list of "low - high"; the last range is open, "low - ...".
 */
Datum
get_histogram_timings(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pgsm_store_check_ready();
	initStringInfo(&buf);
	for (int i = 0; i < pgsm_hist_cells; i++)
	{
		double		hi = pgsm_histogram_bound(i + 1);

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfo(&buf, "%.3f - ", pgsm_histogram_bound(i));
		if (isinf(hi))
			appendStringInfoString(&buf, "...");
		else
			appendStringInfo(&buf, "%.3f", hi);
	}
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}

/* How full the store is, what was dropped, and what the worker did. */
Datum
pg_stat_monitor_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[PGSM_INFO_COLS];
	bool		nulls[PGSM_INFO_COLS];
	PgsmStoreInfo info;
	PgsmWorkerStats ws;
	int			i = 0;

	pgsm_store_check_ready();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* version 2.3 of the extension's SQL has every column but the last two */
	if (tupdesc->natts != PGSM_INFO_COLS && tupdesc->natts != PGSM_INFO_COLS - 2)
		elog(ERROR, "pg_stat_monitor_info() has %d columns, expected %d",
			 tupdesc->natts, PGSM_INFO_COLS);

	pgsm_store_info(&info);
	pgsm_store_worker_stats(&ws, NULL);
	memset(nulls, 0, sizeof(nulls));

	values[i++] = Int64GetDatum(info.size);
	values[i++] = Int32GetDatum(info.max_entries);
	values[i++] = Int32GetDatum(info.entries);
	values[i++] = Int64GetDatum(info.text_size);
	values[i++] = Int64GetDatum(info.text_used);
	values[i++] = Int64GetDatum(info.calls_folded);
	values[i++] = Int64GetDatum(info.entries_folded);
	values[i++] = Int64GetDatum(info.calls_lost);
	values[i++] = TimestampTzGetDatum(info.reset_time);
	values[i++] = Int64GetDatum(ws.exports);
	values[i++] = Int64GetDatum(ws.rows_exported);
	values[i++] = Int64GetDatum(ws.early_flushes);
	values[i++] = Int64GetDatum(ws.export_failures);
	if (ws.last_export_time != 0)
	{
		values[i++] = TimestampTzGetDatum(ws.last_export_time);
		values[i++] = Float8GetDatum(ws.last_export_ms);
		values[i++] = Float8GetDatum(ws.last_lock_ms);
	}
	else
	{
		nulls[i++] = true;
		nulls[i++] = true;
		nulls[i++] = true;
	}
	if (ws.last_error_time != 0)
	{
		values[i++] = CStringGetTextDatum(ws.last_error);
		values[i++] = TimestampTzGetDatum(ws.last_error_time);
	}
	else
	{
		nulls[i++] = true;
		nulls[i++] = true;
	}
	if (tupdesc->natts == PGSM_INFO_COLS)
	{
		values[i++] = Int64GetDatum(ws.history_rows_dropped);
		if (ws.totals_added > 0)
			values[i++] = Float8GetDatum(ws.last_totals_ms);
		else
			nulls[i++] = true;
	}
	Assert(i == tupdesc->natts);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Name of a command type, or NULL for a number PostgreSQL 15 does not use.
 * The views call it once per row.
 */
Datum
get_cmd_type(PG_FUNCTION_ARGS)
{
	int32		cmd_type = PG_GETARG_INT32(0);

	if (cmd_type < CMD_UNKNOWN || cmd_type > CMD_NOTHING)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(cmd_type_name(cmd_type)));
}

/*
 * Two histograms added cell by cell: the transition function of the
 * aggregate pgsm_sum(int8[]), which adds up the parts of a bucket exported
 * in several batches.  A NULL cell counts as zero.  Histograms of different
 * lengths come from different pgsm_histogram_* settings and cannot be added.
 */
Datum
pgsm_add_arrays(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *av;
	Datum	   *bv;
	bool	   *an;
	bool	   *bn;
	int			na;
	int			nb;

	if (ARR_NDIM(a) > 1 || ARR_NDIM(b) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("histograms must be one-dimensional arrays")));

	deconstruct_array(a, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &av, &an, &na);
	deconstruct_array(b, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &bv, &bn, &nb);
	if (na != nb)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("cannot add histograms of %d and %d cells", na, nb),
				 errdetail("Rows exported under different pg_stat_monitor.pgsm_histogram_* settings have histograms of different lengths.")));

	for (int i = 0; i < na; i++)
	{
		int64		x = an[i] ? 0 : DatumGetInt64(av[i]);
		int64		y = bn[i] ? 0 : DatumGetInt64(bv[i]);
		int64		sum;

		if (pg_add_s64_overflow(x, y, &sum))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bigint out of range")));
		av[i] = Int64GetDatum(sum);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(av, na, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * What pgsm_element keeps between calls at one call site: the array last
 * given, as stored (a TOAST pointer, or the compressed or plain bytes), and
 * its elements.  Equal stored bytes are the same array: a TOAST pointer
 * names a value that does not change while a query can see it.
 */
typedef struct PgsmElementCache
{
	MemoryContext cxt;			/* holds what follows; reset for a new array */
	char	   *key;			/* the stored bytes, NULL when not kept */
	Size		keylen;
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			nelems;
	Datum	   *values;			/* point into the array copied into cxt */
	bool	   *nulls;
} PgsmElementCache;

/*
 * pgsm_element(a anyarray, i int): element i (from 1) of a one-dimensional
 * array, NULL out of bounds; like a[i], but a column of a compact row read
 * for each of its elements in turn is detoasted and taken apart once.
 * Only what is stored in a table (plain, compressed, or a pointer to its
 * TOAST table) is kept: an in-memory array is taken apart again each time.
 */
Datum
pgsm_element(PG_FUNCTION_ARGS)
{
	struct varlena *stored = (struct varlena *) PG_GETARG_POINTER(0);
	int32		i = PG_GETARG_INT32(1);
	PgsmElementCache *cache = (PgsmElementCache *) fcinfo->flinfo->fn_extra;
	Size		len = VARSIZE_ANY(stored);
	bool		keep = !VARATT_IS_EXTERNAL(stored) || VARATT_IS_EXTERNAL_ONDISK(stored);
	Datum		value;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									   sizeof(PgsmElementCache));
		cache->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
										   "pgsm_element",
										   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}

	if (!keep || cache->key == NULL || cache->keylen != len ||
		memcmp(cache->key, stored, len) != 0)
	{
		MemoryContext old;
		ArrayType  *a;

		MemoryContextReset(cache->cxt);
		cache->key = NULL;
		old = MemoryContextSwitchTo(cache->cxt);
		/* a copy: the elements must outlive the row they came from */
		a = DatumGetArrayTypePCopy(PointerGetDatum(stored));
		if (ARR_NDIM(a) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("pgsm_element reads one-dimensional arrays only")));
		if (ARR_ELEMTYPE(a) != cache->elemtype)
		{
			cache->elemtype = ARR_ELEMTYPE(a);
			get_typlenbyvalalign(cache->elemtype, &cache->typlen,
								 &cache->typbyval, &cache->typalign);
		}
		deconstruct_array(a, cache->elemtype, cache->typlen, cache->typbyval,
						  cache->typalign, &cache->values, &cache->nulls,
						  &cache->nelems);
		if (keep)
		{
			cache->key = palloc(len);
			memcpy(cache->key, stored, len);
			cache->keylen = len;
		}
		MemoryContextSwitchTo(old);
	}

	if (i < 1 || i > cache->nelems || cache->nulls[i - 1])
		PG_RETURN_NULL();
	value = cache->values[i - 1];
	/* the caller's copy: the next array given resets the cache */
	if (!cache->typbyval)
		value = datumCopy(value, false, cache->typlen);
	PG_RETURN_DATUM(value);
}

/*
 * The start of the bucket in progress at the start of this transaction
 * (like now()), by the schedule the worker keeps in shared memory: a
 * length changed by a reload counts from the bucket where it takes effect,
 * not before.  Without shared memory (not preloaded) the current settings
 * are all there is to go by.
 */
static TimestampTz
bucket_start_now(bool window)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (pgsm_store_ready())
		return pgsm_bucket_start(window ? pgsm_window_first(now) :
								 pgsm_current_bucket(now));
	else
	{
		int64		len = (int64) pgsm_bucket_time * USECS_PER_SEC;
		TimestampTz start = now - (now - SetEpochTimestamp()) % len;

		return window ? start - (pgsm_max_buckets - 1) * len : start;
	}
}

/* Start of the oldest bucket pg_stat_monitor shows. */
Datum
pgsm_window_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(bucket_start_now(true));
}

/* Start of the bucket in progress: older buckets are done. */
Datum
pgsm_current_bucket_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(bucket_start_now(false));
}

/*
 * Whether this extension's own script is running (CREATE EXTENSION or ALTER
 * EXTENSION ... UPDATE), so that pgsm_create_views() knows whether what it
 * creates joins the extension by itself.
 */
Datum
pgsm_creating_extension(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(creating_extension &&
				   CurrentExtensionObject == get_extension_oid("pg_stat_monitor",
																true));
}

/*
 * Whether the worker exports to a repository (pgsm_export_target), so that
 * this server's history tables get nothing and pg_stat_monitor shows the
 * store.  The target itself, which may hold a password, is not shown.
 */
Datum
pgsm_exports_remotely(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pgsm_export_target != NULL && pgsm_export_target[0] != '\0');
}
