/*-------------------------------------------------------------------------
 *
 * export.c
 *		Writing the store's statistics to the history tables.
 *
 * The worker calls pgsm_export_cycle() at every bucket boundary and when
 * the store asks to be emptied early.  One cycle:
 *
 *	1. finds the extension in the worker's database (its schema and
 *	   version); without it, the store is rotated as the collector alone
 *	   would rotate it;
 *	2. now and then, keeps the partitions (pgsm_maintain_partitions);
 *	3. freezes the store's contents as a batch (store.c) and writes it in
 *	   one transaction to the destination (local tables, or a repository
 *	   named by pgsm_export_target, see remote_write): the partitions it
 *	   needs, the texts not sent lately, the rows by COPY FROM from the
 *	   batch's COPY BINARY stream (batch.c), and a record of the batch.  No
 *	   SQL is built or parsed per row, and no lock on the store is held
 *	   while writing.  Only after commit is the batch released;
 *	4. after a bucket boundary, has the materialized view refreshed (by a
 *	   worker of its own, see worker.c) and takes a snapshot of the logical
 *	   decoding statistics, when the installed version has them.
 *
 * The worker's search_path is pg_catalog alone (worker.c); even so, every
 * name in the SQL below is qualified, and every argument of the extension's
 * functions has its type, so that no function or operator someone created
 * elsewhere can be chosen instead.
 *
 * A batch that fails to be written stays frozen in the store and is
 * retried; a batch found in pg_stat_monitor_exports was written already
 * (the worker died between commit and release) and is just released.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "pgstat.h"
#include "rewrite/rewriteHandler.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgsm.h"

PG_FUNCTION_INFO_V1(pgsm_batch_rows);
PG_FUNCTION_INFO_V1(pg_stat_monitor_flush);

/* Columns of pgsm_batch_rows(): the view's, then these */
#define BATCH_EXTRA_COLS	5
#define BATCH_COLS			(PGSM_COLS + BATCH_EXTRA_COLS)

/* Versions, as major * 100 + minor */
#define VERSION_TABLES		201 /* history tables */
#define VERSION_MATVIEW		202 /* pg_stat_monitor is a materialized view */
#define VERSION_DECODING	203 /* logical decoding history */
#define VERSION_ENTRIES		204 /* history's table is pg_stat_monitor_entries,
								 * with the columns of 17 and 18; the totals of
								 * pg_stat_monitor_statements; the materialized
								 * view is pgsm_recent */

/* How often partitions are looked after */
#define MAINTAIN_INTERVAL_MS	(5 * 60 * 1000)

/* The extension as the worker last found it */
static bool ext_found = false;
static char *ext_schema = NULL; /* quoted, in TopMemoryContext */
static char *ext_schema_name = NULL;	/* the same, unquoted */
static Oid	ext_oid = InvalidOid;
static int	ext_version = 0;
static const char *entries_table = "pg_stat_monitor_entries";
static bool ext_reported = false;	/* said once that it is missing */

/*
 * Buckets whose partition this worker has made sure of since its last
 * failure, so that a batch of a known bucket goes straight to its insert.
 */
#define ENSURED_MAX		64
static TimestampTz ensured[ENSURED_MAX];
static int	nensured = 0;
static int	ensured_next = 0;

static TimestampTz last_maintained = 0;
static TimestampTz retry_after = 0;
static bool refresh_pending = false;

/*
 * The frozen batch, as rows of the view plus the sums of squares that let
 * early-flushed parts of a bucket be added up, and the ids of its texts;
 * copied under the store's lock in shared mode, so any session may call
 * it, to see what the worker is exporting.
 */
Datum
pgsm_batch_rows(PG_FUNCTION_ARGS)
{
	uint64		batch_id = (uint64) PG_GETARG_INT64(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PgsmSnapshot local;
	PgsmSnapshot *snap;
	TimestampTz now = GetCurrentTimestamp();
	int			base;

	pgsm_store_check_ready();
	InitMaterializedSRF(fcinfo, 0);
	/* before 2.4, the extra columns came after the first PGSM_COLS_2_3 */
	base = rsinfo->setDesc->natts - BATCH_EXTRA_COLS;
	if (base != PGSM_COLS && base != PGSM_COLS_2_3)
		elog(ERROR, "pgsm_batch_rows() has %d columns, expected %d",
			 rsinfo->setDesc->natts, BATCH_COLS);

	pgsm_store_snapshot(&local, true);
	snap = &local;
	if (snap->batch_id != batch_id)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("batch " UINT64_FORMAT " is not being exported", batch_id)));

	for (int n = 0; n < snap->nentries; n++)
	{
		PgsmEntry  *e = PgsmSnapshotEntry(snap, n);
		Datum		values[BATCH_COLS];
		bool		nulls[BATCH_COLS];
		const char *t = snap->texts + e->text_offset;
		int			i = base;

		memset(nulls, 0, sizeof(nulls));
		pgsm_entry_row(e, snap->texts, true, false, now, values, nulls);

		values[i++] = Float8GetDatum(e->counters.sum_var_time);
		values[i++] = Float8GetDatum(e->counters.sum_var_plan_time);

		/* texts are identified by a hash of their bytes */
		for (int kind = 0; kind < PGSM_NUM_TEXTS; kind++)
		{
			if (kind == PGSM_TEXT_QUERY || kind == PGSM_TEXT_TOP_QUERY ||
				kind == PGSM_TEXT_PLAN)
			{
				if (e->text_len[kind] > 0)
					values[i] = Int64GetDatum((int64) hash_bytes_extended((const unsigned char *) t,
																		  e->text_len[kind], 0));
				else
					nulls[i] = true;
				i++;
			}
			t += e->text_len[kind];
		}
		Assert(i == base + BATCH_EXTRA_COLS);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}
	return (Datum) 0;
}

Datum
pg_stat_monitor_flush(PG_FUNCTION_ARGS)
{
	pgsm_store_check_ready();
	pgsm_store_request_flush();
	PG_RETURN_VOID();
}

static void
record_error(const char *message)
{
	PgsmWorkerStats ws;

	pgsm_store_worker_stats(&ws, NULL);
	ws.export_failures++;
	ws.last_error_time = GetCurrentTimestamp();
	strlcpy(ws.last_error, message, sizeof(ws.last_error));
	pgsm_store_worker_stats(NULL, &ws);
}

typedef void (*StepFn) (void *arg);

/*
 * Run one step in a transaction of its own.  An error is logged with what
 * was being done, recorded for pg_stat_monitor_info, and ends the step, not
 * the worker.  Returns whether the step committed.
 */
static bool
run_step(const char *what, StepFn fn, void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, what);
		fn(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("pg_stat_monitor worker could not %s: %s",
						what, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 errhint("Statistics not yet exported stay in shared memory, and the worker tries again.")));
		record_error(edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(oldcxt);
	return ok;
}

static void
spi_exec(const char *sql, int nargs, Oid *types, Datum *values, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL,
										   false, 0);

	if (rc != expect)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
}

/* "major.minor" as major * 100 + minor */
static int
parse_version(const char *v)
{
	int			major = 0;
	int			minor = 0;

	(void) sscanf(v, "%d.%d", &major, &minor);
	return major * 100 + minor;
}

static void
step_find_extension(void *arg)
{
	int			rc;

	rc = SPI_execute("SELECT n.nspname, e.extversion, e.oid"
					 " FROM pg_catalog.pg_extension e"
					 " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
					 " WHERE e.extname = 'pg_stat_monitor'", true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not look up the extension");

	ext_found = SPI_processed == 1;
	if (ext_found)
	{
		char	   *nsp = SPI_getvalue(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1);
		char	   *ver = SPI_getvalue(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 2);

		bool		isnull;
		Oid			oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc,
														 3, &isnull));

		if (ext_schema)
			pfree(ext_schema);
		if (ext_schema_name)
			pfree(ext_schema_name);
		ext_schema = MemoryContextStrdup(TopMemoryContext,
										 quote_identifier(nsp));
		ext_schema_name = MemoryContextStrdup(TopMemoryContext, nsp);
		ext_version = parse_version(ver);
		entries_table = ext_version >= VERSION_ENTRIES ?
			"pg_stat_monitor_entries" : "pg_stat_monitor_data";
		/* a new extension has none of the texts sent to the old one */
		if (oid != ext_oid)
			pgsm_batch_forget_texts();
		ext_oid = oid;
	}
}

/*
 * Is there somewhere to export to?  Says so in the log when that changes,
 * once, rather than at every cycle.
 */
static bool
find_extension(void)
{
	if (!run_step("look up the extension", step_find_extension, NULL))
		return false;

	if (!ext_found || ext_version < VERSION_TABLES)
	{
		if (!ext_reported)
			ereport(LOG,
					(errmsg("pg_stat_monitor worker is waiting for extension \"pg_stat_monitor\" %s in database \"%s\"",
							ext_found ? "to be updated" : "to be created",
							pgsm_database),
					 errdetail("Until then, statistics stay in shared memory only."),
					 errhint("Run CREATE EXTENSION pg_stat_monitor (or ALTER EXTENSION pg_stat_monitor UPDATE) in database \"%s\".",
							 pgsm_database)));
		ext_reported = true;
		return false;
	}
	if (ext_reported)
		ereport(LOG,
				(errmsg("pg_stat_monitor worker found extension \"pg_stat_monitor\" in database \"%s\" and starts exporting",
						pgsm_database)));
	ext_reported = false;
	return true;
}

static void
step_maintain(void *arg)
{
	char		sql[256];

	pgsm_lock_history(ext_schema, entries_table, "ROW EXCLUSIVE");
	/* every argument given with its type: no overload can match better */
	snprintf(sql, sizeof(sql),
			 "SELECT %s.pgsm_maintain_partitions(pg_catalog.now())",
			 ext_schema);
	spi_exec(sql, 0, NULL, NULL, SPI_OK_SELECT);
}

/* What a batch's write needs */
typedef struct BatchWrite
{
	uint64		batch_id;
	int			nbuckets;		/* buckets whose partition is not known */
	Datum	   *bucket_starts;
	int			nall;			/* every bucket of the batch ... */
	int64	   *all_buckets;
	int		   *all_entries;	/* ... and its number of entries */
	TimestampTz first_start;	/* start of its earliest bucket */
	bool		already_written;
	uint64		rows;
	PgsmBatch  *batch;			/* opened in ... */
	MemoryContext batch_cxt;	/* ... a context of its own */
	bool		totals_pending; /* its statements to be added to the totals */
} BatchWrite;

/*
 * Where a batch goes.  Every export takes the same path (export_batch,
 * step_write_batch): freeze, have the destination make the partitions the
 * batch needs if it makes them apart (make_partitions, in a transaction of
 * their own), open the batch (batch.c), ask the destination whether it has
 * the batch already, have it write the batch, release.  A destination
 * stores, in the export's transaction or in one of its own that commits
 * with it, the batch's new texts, its rows (read as a COPY BINARY stream,
 * pgsm_batch_read) and a record of the batch by id; the repository adds
 * the batch to the totals of pg_stat_monitor_statements in the same
 * transaction, the local tables a moment later, from the batch kept in
 * memory (totals.c).
 */
typedef struct PgsmDestination
{
	const char *name;
	void		(*make_partitions) (BatchWrite *bw);
	bool		(*has_batch) (BatchWrite *bw);
	uint64		(*write) (BatchWrite *bw, PgsmBatch *batch);
} PgsmDestination;

/* The local destination: the history tables of pgsm_database */
static bool
local_has_batch(BatchWrite *bw)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char	   *sql;

	/* the export's first lock */
	pgsm_lock_history(ext_schema, entries_table, "ROW EXCLUSIVE");

	values[0] = Int64GetDatum((int64) bw->batch_id);
	values[1] = CStringGetTextDatum(pgsm_effective_server_name());
	if (ext_version >= VERSION_ENTRIES)
		sql = psprintf("SELECT 1 FROM %s.pg_stat_monitor_exports"
					   " WHERE batch_id OPERATOR(pg_catalog.=) $1"
					   " AND server_name OPERATOR(pg_catalog.=) $2", ext_schema);
	else
		sql = psprintf("SELECT 1 FROM %s.pg_stat_monitor_exports WHERE batch_id = $1",
					   ext_schema);
	spi_exec(sql, ext_version >= VERSION_ENTRIES ? 2 : 1, types, values,
			 SPI_OK_SELECT);
	return SPI_processed > 0;
}

/* The batch being read by COPY: its callback has no argument of its own */
static PgsmBatch *copy_batch = NULL;

static int
copy_read(void *outbuf, int minread, int maxread)
{
	return pgsm_batch_read(copy_batch, outbuf, minread, maxread);
}

/*
 * The rows, by COPY FROM from the batch's stream: COPY's own path, with
 * partition routing, buffered multi-row inserts and index upkeep, and no
 * SQL per row.
 */
static uint64
local_copy_rows(PgsmBatch *batch)
{
	Relation	rel;
	ParseState *pstate;
	CopyFromState cstate;
	List	   *options;
	uint64		rows;

	rel = table_openrv(makeRangeVar(ext_schema_name, (char *) entries_table, -1),
					   RowExclusiveLock);
	pstate = make_parsestate(NULL);
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL,
										 false, false);
	options = list_make1(makeDefElem("format", (Node *) makeString("binary"), -1));

	copy_batch = batch;
	PG_TRY();
	{
		cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, copy_read,
							   pgsm_history_column_names(batch), options);
		rows = CopyFrom(cstate);
		EndCopyFrom(cstate);
	}
	PG_FINALLY();
	{
		copy_batch = NULL;
	}
	PG_END_TRY();

	free_parsestate(pstate);
	table_close(rel, NoLock);
	return rows;
}

/*
 * The partition of history that holds a bucket, from the table's partition
 * bounds as the relation cache has them.
 */
static Oid
bucket_partition(Relation parent, TimestampTz start)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	PartitionDesc pd = RelationGetPartitionDesc(parent, true);
	Datum		value = TimestampTzGetDatum(start);
	int			index = -1;

	if (key == NULL || key->strategy != PARTITION_STRATEGY_RANGE ||
		key->partnatts != 1 || key->parttypid[0] != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s.%s is not partitioned by range of bucket start times",
						ext_schema, entries_table),
				 errhint("ALTER EXTENSION pg_stat_monitor UPDATE, or DROP EXTENSION and CREATE EXTENSION, makes it again.")));
	if (pd->nparts > 0)
	{
		bool		equal;
		int			offset = partition_range_datum_bsearch(key->partsupfunc,
														   key->partcollation,
														   pd->boundinfo, 1,
														   &value, &equal);

		index = pd->boundinfo->indexes[offset + 1];
		if (index < 0)
			index = pd->boundinfo->default_index;
	}
	if (index < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("no partition of %s.%s holds the bucket starting at %s",
						ext_schema, entries_table, timestamptz_to_str(start)),
				 errhint("The export makes it again at its next try.")));
	return pd->oids[index];
}

/* Rows handed to the table at once (a few pages of them) */
#define INSERT_SLOTS	64

/*
 * The rows of one bucket, into its partition: 64 at a time
 * (table_multi_insert, as COPY does, with a bulk-insert state of the
 * partition's own), then their index entries.  The
 * partition's columns are matched to history's by name, so a partition made
 * before a column was dropped from the table takes the rows as well as a
 * new one; a column the export does not fill takes its default (and must
 * have one if it may not be NULL).  The first row is checked against the
 * partition's bounds, as routing would.
 */
static void
insert_bucket_rows(PgsmBatch *batch, int64 bucket, Relation leaf, EState *estate)
{
	PgsmSnapshot *snap = pgsm_batch_snapshot(batch);
	TupleDesc	desc = RelationGetDescr(leaf);
	int			ncols = pgsm_history_ncols(batch);
	int		   *source = palloc(sizeof(int) * desc->natts);
	ExprState **defaults = palloc0(sizeof(ExprState *) * desc->natts);
	Datum	   *values = palloc(sizeof(Datum) * ncols);
	bool	   *nulls = palloc(sizeof(bool) * ncols);
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * INSERT_SLOTS);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	ExprContext *econtext = GetPerTupleExprContext(estate);
	CommandId	cid = GetCurrentCommandId(true);
	BulkInsertState bistate = GetBulkInsertState();
	MemoryContext rows_cxt;
	MemoryContext old;
	int			nslots = 0;
	int			nmade = 0;
	bool		checked = false;

	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		source[a] = att->attisdropped ? -1 :
			pgsm_history_column(batch, NameStr(att->attname));
		if (source[a] < 0 && !att->attisdropped)
		{
			Node	   *def = build_column_default(leaf, a + 1);

			if (def != NULL)
				defaults[a] = ExecPrepareExpr((Expr *) def, estate);
			else if (att->attnotnull)
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("column \"%s\" of relation \"%s\" is not null and the export does not fill it",
								NameStr(att->attname), RelationGetRelationName(leaf)),
						 errhint("Give the column a default, or drop it: the columns of history are the extension's.")));
		}
	}

	InitResultRelInfo(rri, leaf, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	rows_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_stat_monitor rows",
									 ALLOCSET_DEFAULT_SIZES);

	for (int n = 0; n <= snap->nentries; n++)
	{
		TupleTableSlot *slot;

		if (n < snap->nentries && PgsmSnapshotEntry(snap, n)->key.bucket != bucket)
			continue;
		if (nslots == INSERT_SLOTS || (n == snap->nentries && nslots > 0))
		{
			table_multi_insert(leaf, slots, nslots, cid, 0, bistate);
			for (int i = 0; i < nslots; i++)
			{
				if (rri->ri_NumIndices > 0)
					(void) pgsm_insert_index_tuples(rri, slots[i], estate, false);
				ExecClearTuple(slots[i]);
			}
			nslots = 0;
			ResetPerTupleExprContext(estate);
			MemoryContextReset(rows_cxt);
		}
		if (n == snap->nentries)
			break;

		if (nslots == nmade)
			slots[nmade++] = table_slot_create(leaf, NULL);
		slot = slots[nslots++];
		old = MemoryContextSwitchTo(rows_cxt);
		pgsm_batch_row_values(batch, n, values, nulls, NULL);
		for (int a = 0; a < desc->natts; a++)
		{
			if (source[a] >= 0)
			{
				slot->tts_values[a] = values[source[a]];
				slot->tts_isnull[a] = nulls[source[a]];
			}
			else if (defaults[a] != NULL)
				slot->tts_values[a] = ExecEvalExpr(defaults[a], econtext,
												   &slot->tts_isnull[a]);
			else
				slot->tts_isnull[a] = true;
		}
		MemoryContextSwitchTo(old);
		ExecStoreVirtualTuple(slot);
		if (!checked)
		{
			(void) ExecPartitionCheck(rri, slot, estate, true);
			checked = true;
		}
	}

	for (int i = 0; i < nmade; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	FreeBulkInsertState(bistate);
	ExecCloseIndices(rri);
	MemoryContextDelete(rows_cxt);
}

/*
 * The rows, inserted by the worker itself, bucket by bucket into their
 * partitions: no text, no binary format, no SQL per row, the datums taken
 * from the batch.  A history table with triggers (someone's own) gets the
 * rows by COPY FROM instead, which fires them.
 */
static uint64
local_insert_rows(BatchWrite *bw, PgsmBatch *batch)
{
	Relation	parent;
	Relation   *leaves;
	EState	   *estate;
	bool		triggers;

	parent = table_openrv(makeRangeVar(ext_schema_name, (char *) entries_table, -1),
						  RowExclusiveLock);
	triggers = parent->trigdesc != NULL;
	leaves = palloc(sizeof(Relation) * Max(bw->nall, 1));
	for (int i = 0; i < bw->nall; i++)
	{
		leaves[i] = table_open(bucket_partition(parent, pgsm_bucket_start(bw->all_buckets[i])),
							   RowExclusiveLock);
		if (leaves[i]->rd_rel->relkind != RELKIND_RELATION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("partition \"%s\" of %s.%s is not a table",
							RelationGetRelationName(leaves[i]), ext_schema, entries_table),
					 errhint("Partitions of history are made by the extension; drop this one and the export makes another.")));
		triggers |= leaves[i]->trigdesc != NULL;
	}
	if (triggers)
	{
		for (int i = 0; i < bw->nall; i++)
			table_close(leaves[i], NoLock);
		table_close(parent, NoLock);
		return local_copy_rows(batch);
	}

	estate = CreateExecutorState();
	for (int i = 0; i < bw->nall; i++)
	{
		insert_bucket_rows(batch, bw->all_buckets[i], leaves[i], estate);
		table_close(leaves[i], NoLock);
	}
	FreeExecutorState(estate);
	table_close(parent, NoLock);
	CommandCounterIncrement();
	return pgsm_batch_entries(batch);
}

/*
 * The partitions the rows go to, unless known to be there, in a
 * transaction before the export's: making one locks the history table
 * exclusively, which the export, having locked it for its rows already
 * (pgsm_lock_history), would have to wait for while holding the lesser
 * lock, as a DROP of the table does.
 */
static void
local_make_partitions(BatchWrite *bw)
{
	Oid			type = TIMESTAMPTZARRAYOID;
	Datum		value;
	char	   *sql;

	sql = psprintf("SELECT %s.pgsm_ensure_partition(%s::pg_catalog.regclass, t)"
				   " FROM pg_catalog.unnest($1) t",
				   ext_schema,
				   quote_literal_cstr(psprintf("%s.%s", ext_schema, entries_table)));
	value = PointerGetDatum(construct_array(bw->bucket_starts, bw->nbuckets,
											TIMESTAMPTZOID, sizeof(TimestampTz),
											true, TYPALIGN_DOUBLE));
	spi_exec(sql, 1, &type, &value, SPI_OK_SELECT);
}

/* A text's last_used is moved on once it is this old */
#define TEXT_TOUCH_MS	(3600 * 1000)

/* The number of column "name" of the texts' table, or an error */
static int
texts_column(Relation rel, const char *name)
{
	AttrNumber	a = attnameAttNum(rel, name, false);

	if (a == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of %s.pg_stat_monitor_texts does not exist",
						name, ext_schema),
				 errhint("ALTER EXTENSION pg_stat_monitor UPDATE, or DROP EXTENSION and CREATE EXTENSION, makes it again.")));
	return a - 1;
}

/*
 * Store the texts not sent lately (n ids and texts): each is looked up by
 * id in the table's primary key; one missing is inserted, one stored
 * already has its last_used moved on if that is more than an hour old.  No
 * SQL per text; the worker is the only one to write texts here, and
 * anyone else inserting the same one meanwhile fails the export, which is
 * tried again.
 */
static void
local_store_texts(Datum *ids, Datum *texts, int n)
{
	Relation	rel;
	Relation	pkey;
	Oid			pkeyid;
	TupleDesc	desc;
	IndexScanDesc scan;
	ScanKeyData key;
	TupleTableSlot *found;
	TupleTableSlot *slot;
	ResultRelInfo *rri;
	EState	   *estate;
	Snapshot	snapshot;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz stale = TimestampTzPlusMilliseconds(now, -TEXT_TOUCH_MS);
	Datum	   *values;
	bool	   *nulls;
	int			c_id;
	int			c_text;
	int			c_first;
	int			c_last;

	rel = table_openrv(makeRangeVar(ext_schema_name, "pg_stat_monitor_texts", -1),
					   RowExclusiveLock);
	desc = RelationGetDescr(rel);
	c_id = texts_column(rel, "text_id");
	c_text = texts_column(rel, "text");
	c_first = texts_column(rel, "first_used");
	c_last = texts_column(rel, "last_used");
	pkeyid = pgsm_primary_key(rel);
	if (!OidIsValid(pkeyid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s.pg_stat_monitor_texts has no primary key", ext_schema),
				 errhint("ALTER EXTENSION pg_stat_monitor UPDATE, or DROP EXTENSION and CREATE EXTENSION, makes it again.")));
	pkey = index_open(pkeyid, RowExclusiveLock);
	if (IndexRelationGetNumberOfKeyAttributes(pkey) != 1 ||
		pkey->rd_index->indkey.values[0] != c_id + 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the primary key of %s.pg_stat_monitor_texts is not (text_id)", ext_schema),
				 errhint("ALTER EXTENSION pg_stat_monitor UPDATE, or DROP EXTENSION and CREATE EXTENSION, makes it again.")));

	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	found = table_slot_create(rel, NULL);
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = pgsm_index_beginscan(rel, pkey, snapshot, 1);
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup;
		PgsmIndexUpdate update = PGSM_INDEX_ALL;

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, ids[i]);
		index_rescan(scan, &key, 1, NULL, 0);
		if (index_getnext_slot(scan, ForwardScanDirection, found))
		{
			bool		isnull;
			Datum		last = slot_getattr(found, c_last + 1, &isnull);

			if (!isnull && DatumGetTimestampTz(last) >= stale)
				continue;
			heap_deform_tuple(ExecFetchSlotHeapTuple(found, false, NULL), desc,
							  values, nulls);
			values[c_last] = TimestampTzGetDatum(now);
			nulls[c_last] = false;
			tup = heap_form_tuple(desc, values, nulls);
			update = pgsm_heap_update(rel, &found->tts_tid, tup);
		}
		else
		{
			memset(nulls, true, sizeof(bool) * desc->natts);
			values[c_id] = ids[i];
			values[c_text] = texts[i];
			values[c_first] = values[c_last] = TimestampTzGetDatum(now);
			nulls[c_id] = nulls[c_text] = nulls[c_first] = nulls[c_last] = false;
			tup = heap_form_tuple(desc, values, nulls);
			simple_heap_insert(rel, tup);
		}
		if (update != PGSM_INDEX_NONE)
		{
			ExecStoreHeapTuple(tup, slot, false);
			(void) pgsm_insert_index_tuples(rri, slot, estate,
											update == PGSM_INDEX_SUMMARIZING);
			ExecClearTuple(slot);
		}
		heap_freetuple(tup);
		ResetPerTupleExprContext(estate);
	}
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(found);
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	index_close(pkey, NoLock);
	table_close(rel, NoLock);
	CommandCounterIncrement();
}

static uint64
local_write(BatchWrite *bw, PgsmBatch *batch)
{
	Oid			types[4];
	Datum		values[4];
	Datum	   *ids;
	Datum	   *texts;
	int			ntexts;
	char	   *sql;
	const char *s = ext_schema;
	uint64		rows;

	/* texts not sent lately */
	pgsm_batch_new_texts(batch, &ids, &texts, &ntexts);
	if (ntexts > 0)
		local_store_texts(ids, texts, ntexts);

	rows = ext_version >= VERSION_ENTRIES ? local_insert_rows(bw, batch) :
		local_copy_rows(batch);

	/* the totals are added to after the export (pgsm_totals_fold) */
	if (ext_version >= VERSION_ENTRIES)
	{
		bw->totals_pending = true;
		sql = psprintf("INSERT INTO %s.pg_stat_monitor_exports"
					   " (batch_id, rows, server_name, totals_pending_since)"
					   " VALUES ($1, $2, $3, $4)", s);
	}
	else
		sql = psprintf("INSERT INTO %s.pg_stat_monitor_exports (batch_id, rows)"
					   " VALUES ($1, $2)", s);
	types[0] = INT8OID;
	values[0] = Int64GetDatum((int64) bw->batch_id);
	types[1] = INT4OID;
	values[1] = Int32GetDatum((int32) rows);
	types[2] = TEXTOID;
	values[2] = CStringGetTextDatum(pgsm_batch_server_name(batch));
	types[3] = TIMESTAMPTZOID;
	values[3] = TimestampTzGetDatum(bw->first_start);
	spi_exec(sql, ext_version >= VERSION_ENTRIES ? 4 : 2, types, values,
			 SPI_OK_INSERT);
	return rows;
}

static const PgsmDestination local_destination = {
	"local tables", local_make_partitions, local_has_batch, local_write
};

/*
 * The remote destination: the history tables of a repository, through one
 * connection kept across batches (remote.c).  The same steps as the local
 * destination, each a statement or a COPY over libpq, in one remote
 * transaction per batch that commits before the export's local one; the
 * replay guard is the repository's pg_stat_monitor_exports, keyed by server
 * name and batch id.  Values go as text parameters, timestamps as
 * microseconds since 2000, so that nothing depends on either side's
 * DateStyle or time zone.
 */
static const char *remote_schema = NULL;

/* "{a,b,...}": an int8[] literal */
static char *
int8_array_literal(const int64 *v, int n)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int i = 0; i < n; i++)
		appendStringInfo(&s, "%s" INT64_FORMAT, i > 0 ? "," : "", v[i]);
	appendStringInfoChar(&s, '}');
	return s.data;
}

#define REMOTE_TIME(param) \
	"(TIMESTAMPTZ '2000-01-01 00:00:00+00' OPERATOR(pg_catalog.+)" \
	" pg_catalog.make_interval(secs => " param "::pg_catalog.int8::pg_catalog.float8" \
	" OPERATOR(pg_catalog./) 1000000))"

static bool
remote_has_batch(BatchWrite *bw)
{
	int			version;
	const char *values[2];

	remote_schema = pgsm_remote_open(&version);
	if (version < VERSION_ENTRIES)
	{
		pgsm_remote_close();
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the repository's extension \"pg_stat_monitor\" is too old to hold history of several servers"),
				 errhint("Run ALTER EXTENSION pg_stat_monitor UPDATE in the repository's database.")));
	}
	values[0] = psprintf(INT64_FORMAT, (int64) bw->batch_id);
	values[1] = pgsm_effective_server_name();
	return pgsm_remote_exec(psprintf("SELECT 1 FROM %s.pg_stat_monitor_exports"
									 " WHERE batch_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8"
									 " AND server_name OPERATOR(pg_catalog.=) $2::pg_catalog.text",
									 remote_schema),
							2, values, NULL) > 0;
}

/* The texts of a batch, as a COPY BINARY stream of (text_id, text) */
typedef struct TextStream
{
	StringInfoData buf;
	int			pos;
} TextStream;

static int
text_stream_read(void *arg, void *out, int minread, int maxread)
{
	TextStream *ts = (TextStream *) arg;
	int			n = Min(maxread, ts->buf.len - ts->pos);

	memcpy(out, ts->buf.data + ts->pos, n);
	ts->pos += n;
	return n;
}

static void
put_be(StringInfo s, uint64 v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		appendStringInfoCharMacro(s, (char) ((v >> (8 * i)) & 0xff));
}

static int
batch_stream_read(void *arg, void *out, int minread, int maxread)
{
	return pgsm_batch_read((PgsmBatch *) arg, out, minread, maxread);
}

static uint64
remote_write(BatchWrite *bw, PgsmBatch *batch)
{
	const char *s = remote_schema;
	const char *values[4];
	Datum	   *ids;
	Datum	   *texts;
	int			ntexts;
	int64	   *starts;
	StringInfoData cols;
	ListCell   *lc;
	uint64		rows;

	(void) pgsm_remote_exec("BEGIN", 0, NULL, NULL);

	/* the partitions the rows go to: the repository's own, all checked */
	starts = palloc(sizeof(int64) * Max(bw->nall, 1));
	for (int i = 0; i < bw->nall; i++)
		starts[i] = (int64) pgsm_bucket_start(bw->all_buckets[i]);
	values[0] = int8_array_literal(starts, bw->nall);
	(void) pgsm_remote_exec(psprintf("SELECT %s.pgsm_ensure_partition(%s::pg_catalog.regclass, "
									 REMOTE_TIME("t") ")"
									 " FROM pg_catalog.unnest($1::pg_catalog.int8[]) t",
									 s, quote_literal_cstr(psprintf("%s.pg_stat_monitor_entries", s))),
							1, values, NULL);

	/* texts not sent lately, by COPY into a table of the session's own */
	pgsm_batch_new_texts(batch, &ids, &texts, &ntexts);
	if (ntexts > 0)
	{
		TextStream	ts;

		initStringInfo(&ts.buf);
		ts.pos = 0;
		appendBinaryStringInfo(&ts.buf, "PGCOPY\n\377\r\n\0", 11);
		put_be(&ts.buf, 0, 4);	/* flags */
		put_be(&ts.buf, 0, 4);	/* header extension */
		for (int i = 0; i < ntexts; i++)
		{
			text	   *t = DatumGetTextPP(texts[i]);

			put_be(&ts.buf, 2, 2);
			put_be(&ts.buf, 8, 4);
			put_be(&ts.buf, (uint64) DatumGetInt64(ids[i]), 8);
			put_be(&ts.buf, VARSIZE_ANY_EXHDR(t), 4);
			appendBinaryStringInfo(&ts.buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
		put_be(&ts.buf, 0xffff, 2);

		(void) pgsm_remote_exec("CREATE TEMPORARY TABLE IF NOT EXISTS pgsm_texts_in"
								" (text_id pg_catalog.int8, text pg_catalog.text)"
								" ON COMMIT DELETE ROWS", 0, NULL, NULL);
		(void) pgsm_remote_copy("COPY pg_temp.pgsm_texts_in FROM STDIN (FORMAT binary)",
								text_stream_read, &ts);
		(void) pgsm_remote_exec(psprintf("INSERT INTO %s.pg_stat_monitor_texts AS t (text_id, text)"
										 " SELECT i.text_id, i.text FROM pg_temp.pgsm_texts_in i"
										 " ON CONFLICT (text_id) DO UPDATE SET last_used = pg_catalog.now()"
										 " WHERE t.last_used OPERATOR(pg_catalog.<)"
										 "  (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour')",
										 s),
								0, NULL, NULL);
	}

	/* the rows: the batch's COPY BINARY stream, as it is */
	initStringInfo(&cols);
	foreach(lc, pgsm_history_column_names(batch))
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "",
						 quote_identifier(strVal(lfirst(lc))));
	rows = pgsm_remote_copy(psprintf("COPY %s.pg_stat_monitor_entries (%s) FROM STDIN (FORMAT binary)",
									 s, cols.data),
							batch_stream_read, batch);

	values[0] = psprintf(INT64_FORMAT, (int64) bw->batch_id);
	values[1] = psprintf(INT64_FORMAT, (int64) bw->first_start);
	values[2] = pgsm_batch_server_name(batch);
	(void) pgsm_remote_exec(psprintf("SELECT %s.pgsm_add_totals($1::pg_catalog.int8, "
									 REMOTE_TIME("$2") ", $3::pg_catalog.text)", s),
							3, values, NULL);

	values[0] = pgsm_batch_server_name(batch);
	values[1] = psprintf(INT64_FORMAT, (int64) bw->batch_id);

	values[2] = psprintf(UINT64_FORMAT, rows);
	(void) pgsm_remote_exec(psprintf("INSERT INTO %s.pg_stat_monitor_exports (server_name, batch_id, rows)"
									 " VALUES ($1::pg_catalog.text, $2::pg_catalog.int8, $3::pg_catalog.int4)",
									 s),
							3, values, NULL);

	(void) pgsm_remote_exec("COMMIT", 0, NULL, NULL);
	return rows;
}

static const PgsmDestination remote_destination = {
	"repository", NULL, remote_has_batch, remote_write
};

/* Whether batches go to a repository rather than the local tables */
static inline bool
exporting_remotely(void)
{
	return pgsm_export_target != NULL && pgsm_export_target[0] != '\0';
}

/* The destination batches go to now */
static const PgsmDestination *destination = &local_destination;

static void
step_make_partitions(void *arg)
{
	destination->make_partitions((BatchWrite *) arg);
}

/*
 * Write the frozen batch, in the export's transaction, unless the
 * destination has it already (a worker died between commit and release).
 */
static void
step_write_batch(void *arg)
{
	BatchWrite *bw = (BatchWrite *) arg;
	MemoryContext old;

	if (destination->has_batch(bw))
	{
		bw->already_written = true;
		return;
	}
	bw->batch_cxt = AllocSetContextCreate(TopMemoryContext, "pg_stat_monitor batch",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(bw->batch_cxt);
	bw->batch = pgsm_batch_open(bw->batch_id, destination == &remote_destination ||
								ext_version >= VERSION_ENTRIES);
	MemoryContextSwitchTo(old);
	bw->rows = destination->write(bw, bw->batch);
}

/*
 * The start times of the buckets in the frozen batch, each once, leaving out
 * those whose partition is known to exist.
 */
static void
batch_buckets(BatchWrite *bw)
{
	bw->all_buckets = pgsm_store_batch_buckets(&bw->nall, &bw->all_entries);
	bw->bucket_starts = palloc(sizeof(Datum) * Max(bw->nall, 1));
	bw->nbuckets = 0;
	bw->first_start = DT_NOEND;
	for (int i = 0; i < bw->nall; i++)
	{
		TimestampTz start = pgsm_bucket_start(bw->all_buckets[i]);
		bool		seen = false;

		bw->first_start = Min(bw->first_start, start);

		for (int k = 0; k < nensured && !seen; k++)
			seen = ensured[k] == start;
		if (!seen)
			bw->bucket_starts[bw->nbuckets++] = TimestampTzGetDatum(start);
	}
}

/*
 * Export what the store holds.  Returns the number of rows written, or -1
 * when the write failed; the batch then stays frozen for the next try.
 * Never inlined: bench/export.sh counts its instructions by name (callgrind's
 * --toggle-collect).
 */
static pg_noinline int64
export_batch(bool early)
{
	BatchWrite	bw = {0};
	PgsmWorkerStats ws;
	instr_time	start;
	instr_time	lock_time;
	instr_time	t0;
	instr_time	t1;
	bool		ok;

	INSTR_TIME_SET_CURRENT(start);
	bw.batch_id = pgsm_store_freeze();
	INSTR_TIME_SET_CURRENT(lock_time);
	INSTR_TIME_SUBTRACT(lock_time, start);
	if (bw.batch_id == 0)
		return 0;

	batch_buckets(&bw);
	ok = (bw.nbuckets == 0 || destination->make_partitions == NULL ||
		  run_step("export statistics", step_make_partitions, &bw)) &&
		run_step("export statistics", step_write_batch, &bw);
	/* the batch is kept for the totals, or let go */
	if (ok && bw.totals_pending)
		pgsm_totals_pend(bw.batch, bw.batch_cxt);
	else if (bw.batch_cxt)
		MemoryContextDelete(bw.batch_cxt);
	if (!ok)
	{
		nensured = 0;			/* a partition may have gone */
		pgsm_batch_forget_texts();	/* the texts sent were rolled back */
		return -1;
	}
	for (int k = 0; k < bw.nbuckets; k++)
	{
		ensured[ensured_next] = DatumGetTimestampTz(bw.bucket_starts[k]);
		ensured_next = (ensured_next + 1) % ENSURED_MAX;
		nensured = Min(nensured + 1, ENSURED_MAX);
	}

	INSTR_TIME_SET_CURRENT(t0);
	pgsm_store_release_batch(bw.batch_id);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	INSTR_TIME_ADD(lock_time, t1);

	if (bw.already_written)
		return 0;

	/* in the words of the plan this fork was built from */
	for (int i = 0; i < bw.nall; i++)
		ereport(DEBUG1,
				(errmsg_internal("pg_stat_monitor: exported %d entries from bucket " INT64_FORMAT,
								 bw.all_entries[i],
								 pgsm_bucket_number(bw.all_buckets[i],
													pgsm_bucket_length(bw.all_buckets[i])))));

	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, start);
	pgsm_store_worker_stats(&ws, NULL);
	ws.exports++;
	ws.rows_exported += bw.rows;
	if (early)
		ws.early_flushes++;
	ws.last_export_time = GetCurrentTimestamp();
	ws.last_export_ms = INSTR_TIME_GET_MILLISEC(t1);
	ws.last_lock_ms = INSTR_TIME_GET_MILLISEC(lock_time);
	pgsm_store_worker_stats(NULL, &ws);
	return (int64) bw.rows;
}

/* arg: in, whether to add one batch only; out, how many were added */
static void
step_fold_totals(void *arg)
{
	int			n;

	pgsm_lock_history(ext_schema, entries_table, "ROW EXCLUSIVE");
	n = pgsm_totals_fold(ext_schema_name, ext_schema, *(int *) arg != 0);

	*(int *) arg = n;
	if (n > 0)
		ereport(DEBUG1,
				(errmsg_internal("pg_stat_monitor: added %d exported batches to the totals", n)));
}

/* Whether the batches kept for the totals take maintenance_work_mem */
static bool
totals_over_memory(void)
{
	return pgsm_totals_pending_bytes() >= (Size) maintenance_work_mem * 1024;
}

/*
 * Add the batches exported to the local tables to the totals of
 * pg_stat_monitor_statements (totals.c), in transactions of their own:
 * all of them with "now" (before the partitions' upkeep, every five
 * minutes, and when pg_stat_monitor_flush() asked), or enough to bring
 * what the worker keeps under maintenance_work_mem.  Meanwhile exports
 * write history alone, and a statement seen in several batches is added
 * once.  Each transaction adds the oldest batches: all of them, up to a
 * full store's worth (pgsm_totals_fold), when asked; for memory alone, one
 * batch, about what an export writes, so that in a flood the addition
 * keeps pace with the exports without holding them up.  When the store
 * asks for an export, the rest waits for the next cycle.  If adding fails,
 * the batches are let go all the same: they stay pending in
 * pg_stat_monitor_exports, and are added from history at the next attempt.
 * Never inlined: bench/export.sh counts its instructions by name.
 */
static pg_noinline void
fold_totals(bool now)
{
	static bool wanted = false; /* all of them, asked for and not done */
	PgsmWorkerStats ws;
	instr_time	start;
	instr_time	end;
	int			added = 0;

	wanted |= now;
	if (!wanted && !totals_over_memory())
		return;
	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		/* for memory alone, one batch: about what the last export wrote */
		int			n = !wanted;

		if (!run_step("add exported statistics to the totals", step_fold_totals, &n))
		{
			pgsm_totals_forget();
			wanted = false;
			return;
		}
		pgsm_totals_added();
		added += n;
		if (!pgsm_totals_pending())
		{
			wanted = false;
			break;
		}
		if ((!wanted && !totals_over_memory()) || pgsm_store_flush_wanted())
			break;
	}
	if (added == 0)
		return;
	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	pgsm_store_worker_stats(&ws, NULL);
	ws.totals_added++;
	ws.last_totals_ms = INSTR_TIME_GET_MILLISEC(end);
	pgsm_store_worker_stats(NULL, &ws);
}

/*
 * Hold history under pgsm_history_max_size: the oldest goes first
 * (pgsm_enforce_max_size), with a WARNING and a count in
 * pg_stat_monitor_info when anything went.
 */
static void
step_enforce_max_size(void *arg)
{
	char		sql[256];
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum((int64) pgsm_history_max_size * 1024 * 1024);
	bool		isnull;
	int64		dropped;
	int64		before;
	int64		after;

	pgsm_lock_history(ext_schema, entries_table, "ROW EXCLUSIVE");
	snprintf(sql, sizeof(sql),
			 "SELECT rows_dropped, size_before, size_after FROM %s.pgsm_enforce_max_size($1)",
			 ext_schema);
	spi_exec(sql, 1, &type, &value, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return;
	dropped = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	before = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 2, &isnull));
	after = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 3, &isnull));
	if (dropped > 0)
	{
		PgsmWorkerStats ws;

		pgsm_store_worker_stats(&ws, NULL);
		ws.history_rows_dropped += dropped;
		pgsm_store_worker_stats(NULL, &ws);
		ereport(WARNING,
				(errmsg("pg_stat_monitor history reached pg_stat_monitor.pgsm_history_max_size: " INT64_FORMAT " oldest rows dropped",
						dropped),
				 errdetail("History took " INT64_FORMAT " bytes, and takes " INT64_FORMAT " now.",
						   before, after),
				 errhint("Raise \"pg_stat_monitor.pgsm_history_max_size\", or lower \"pg_stat_monitor.pgsm_retention\", \"pg_stat_monitor.pgsm_compact_after\" or the rollups' retentions (\"pg_stat_monitor.pgsm_rollup_hourly_retention\", \"pg_stat_monitor.pgsm_rollup_daily_retention\").")));
	}
}

static void
step_snapshot_decoding(void *arg)
{
	char		sql[256];
	Oid			type = TIMESTAMPTZOID;
	Datum		value = TimestampTzGetDatum(*(TimestampTz *) arg);

	pgsm_lock_history(ext_schema, entries_table, "ROW EXCLUSIVE");
	snprintf(sql, sizeof(sql), "SELECT %s.pgsm_snapshot_decoding($1)",
			 ext_schema);
	spi_exec(sql, 1, &type, &value, SPI_OK_SELECT);
}

static bool
elapsed(TimestampTz since, int ms)
{
	return TimestampDifferenceExceeds(since, GetCurrentTimestamp(), ms);
}

/* The repository keeps its partitions, texts and export records */
static void
step_remote_maintain(void *arg)
{
	int			version;

	remote_schema = pgsm_remote_open(&version);
	(void) pgsm_remote_exec(psprintf("SELECT %s.pgsm_maintain_partitions(pg_catalog.now())",
									 remote_schema),
							0, NULL, NULL);
}

/*
 * Use the destination the settings name.  A new one (or a new repository)
 * has none of the texts sent to the last, nor its partitions.
 */
static void
choose_destination(void)
{
	static char *last_target = NULL;
	const char *target = exporting_remotely() ? pgsm_export_target : "";

	if (last_target != NULL && strcmp(last_target, target) == 0)
		return;
	if (last_target)
		pfree(last_target);
	last_target = MemoryContextStrdup(TopMemoryContext, target);
	pgsm_remote_close();
	pgsm_batch_forget_texts();
	nensured = 0;
	last_maintained = 0;
	retry_after = 0;
	destination = target[0] ? &remote_destination : &local_destination;
}

/*
 * One cycle of the worker exporting to a repository, on a primary or a
 * standby.  Only the batch goes there: nothing is written locally, so the
 * local history, its refresh and its snapshots of logical decoding are left
 * alone.  A failed export waits longer after each failure (up to about
 * five minutes), bucket boundaries or not, so that a repository that is
 * down is not called on every second; the batch waits in the store
 * meanwhile, and what no longer fits there is folded as always.
 */
static void
remote_export_cycle(bool boundary)
{
	static int	failures = 0;

	if (retry_after != 0 && GetCurrentTimestamp() < retry_after)
		return;

	if ((last_maintained == 0 || elapsed(last_maintained, MAINTAIN_INTERVAL_MS)) &&
		run_step("maintain the repository's partitions", step_remote_maintain, NULL))
	{
		last_maintained = GetCurrentTimestamp();
		nensured = 0;
		pgsm_batch_forget_texts();
	}

	if (last_maintained != 0 && export_batch(!boundary) >= 0)
	{
		failures = 0;
		retry_after = 0;
		return;
	}

	/*
	 * An error raised here rather than by libpq (reading the batch, say)
	 * may have left a remote transaction or COPY open: it must not be
	 * carried into the next batch's.
	 */
	pgsm_remote_close();
	failures++;
	retry_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											  (int64) Min(pgsm_bucket_time, 10) * 1000 *
											  ((int64) 1 << Min(failures - 1, 5)));
}

/*
 * One cycle of the worker with export on, on a primary.  "boundary" is set
 * when a bucket ended since the last cycle, "finished_bucket" being the
 * last one that did.
 */
void
pgsm_export_cycle(bool boundary, int64 finished_bucket)
{
	bool		early = !boundary;
	bool		totals_asked = pgsm_store_totals_wanted();
	int64		rows;

	choose_destination();
	if (destination == &remote_destination)
	{
		/* batches exported locally before stay pending in the tables */
		pgsm_totals_forget();
		remote_export_cycle(boundary);
		return;
	}

	/* after a failure, wait a little, unless a bucket ended */
	if (!boundary && retry_after != 0 &&
		GetCurrentTimestamp() < retry_after)
		return;

	if ((boundary || !ext_found) && !find_extension())
	{
		/* nowhere to export to: behave as the collector alone */
		pgsm_store_discard_buckets_before(pgsm_window_first(GetCurrentTimestamp()));
		pgsm_totals_forget();
		nensured = 0;			/* the tables may come back empty */
		return;
	}

	if (last_maintained == 0 || elapsed(last_maintained, MAINTAIN_INTERVAL_MS))
	{
		fold_totals(true);
		if (run_step("maintain partitions", step_maintain, NULL))
			last_maintained = GetCurrentTimestamp();
		/* then history due for compaction, by a worker of its own */
		if (ext_version >= VERSION_ENTRIES && !pgsm_compact_launch(ext_schema))
			ereport(DEBUG1,
					(errmsg_internal("pg_stat_monitor: no worker to compact history; tried again later")));
		nensured = 0;			/* old partitions may have gone */
		pgsm_batch_forget_texts();	/* and old texts */
	}

	rows = export_batch(early);

	/* other tables: a failed export is no reason to skip the snapshot */
	if (boundary && ext_version >= VERSION_DECODING)
	{
		TimestampTz start = pgsm_bucket_start(finished_bucket);

		(void) run_step("record logical decoding statistics",
						step_snapshot_decoding, &start);
	}

	if (rows < 0)
	{
		retry_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  Min(pgsm_bucket_time, 10) * 1000);
		ext_found = false;		/* look again next time */
		return;
	}
	retry_after = 0;
	fold_totals(totals_asked);

	if (rows > 0 && pgsm_history_max_size > 0 && ext_version >= VERSION_ENTRIES)
		(void) run_step("hold history under its maximum size",
						step_enforce_max_size, NULL);

	/* the view is refreshed once per bucket, by a worker of its own */
	if (boundary)
		refresh_pending = true;
	if (refresh_pending && ext_version >= VERSION_MATVIEW)
	{
		if (pgsm_refresh_launch(ext_schema, ext_version < VERSION_ENTRIES))
			refresh_pending = false;
		else
			ereport(LOG,
					(errmsg("pg_stat_monitor worker could not start a worker to refresh pg_stat_monitor"),
					 errhint("Raise \"max_worker_processes\"; the refresh is tried again at the next bucket.")));
	}
}

