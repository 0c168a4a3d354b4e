/*-------------------------------------------------------------------------
 *
 * totals.c
 *		The running totals behind pg_stat_monitor_statements, kept by the
 *		export worker itself.
 *
 * The worker adds the statements (entries without an error level) of the
 * batches it exports to pg_stat_monitor_totals, not in the export's
 * transaction but in one of its own after it, so that exporting (what
 * frees the store) costs no more than writing history: it keeps each
 * batch it exported in memory, and its row of pg_stat_monitor_exports
 * says that it is pending, until it adds them: every five minutes (before
 * the partitions' upkeep), when pg_stat_monitor_flush() asks, or once the
 * batches kept take maintenance_work_mem (export.c, fold_totals), the
 * oldest first, each transaction about as long as an export, so that the
 * store's exports come first.  A statement seen in several of the batches
 * added together is added once.  The batches' rows are combined per key
 * in memory, then each key's row is looked up through the table's unique
 * index and replaced by its sum with the batches (a HOT update where the
 * page has room), or inserted when new.  No SQL is run per row, and nothing
 * is read back from history.  Meanwhile pg_stat_monitor_statements adds
 * the pending batches' rows of history to the totals itself; and if the
 * worker restarts or fails with batches pending, they are added from
 * history instead (pgsm_fold_totals()).
 *
 * What a total is made of is read from the catalogs, not written here: the
 * key is the unique index's columns; every other column takes the rule
 * pgsm_combine_rule() names for it, the one pgsm_combine() writes as SQL
 * for every other path (views, rollups, compaction, pgsm_add_totals), and
 * is filled from the history column of the same name (batch.c), except
 * query (the statement's text) and stats_since (the bucket's start).
 *
 * Someone else changing a total or adding a key between the lookup and the
 * write (pgsm_add_totals, a reset) makes the attempt fail; the batches are
 * then added from history at the next.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "pgsm.h"

typedef enum Rule
{
	RULE_NONE,					/* not read yet */
	RULE_KEY,					/* a column of the unique index */
	RULE_LEAST,
	RULE_GREATEST,
	RULE_MIN,					/* of the parts with calls (or plans), or 0 */
	RULE_MAX,
	RULE_VARIANCE,				/* sums of squared deviations */
	RULE_SUM
} Rule;

typedef struct TotalsColumn
{
	Rule		rule;
	int			source;			/* history column, or -1 */
	bool		query;			/* the statement's text */
	int			count;			/* column of the count of calls or plans */
	int			total;			/* column of the total time */
	Oid			type;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	FmgrInfo   *cmp;			/* for least and greatest (the type cache's) */
} TotalsColumn;

/*
 * The shape of pg_stat_monitor_totals, as last read: kept while the table,
 * its number of columns and its index stay the same.
 */
typedef struct TotalsShape
{
	Oid			relid;
	Oid			indexid;
	int			natts;
	TotalsColumn *cols;
	bool	   *wanted;			/* the history columns read */
	int			nkeys;
	AttrNumber	keys[INDEX_MAX_KEYS];	/* heap column of each index column */
	FmgrInfo	eq[INDEX_MAX_KEYS];	/* and its equality */
	Oid			keycoll[INDEX_MAX_KEYS];
} TotalsShape;

static TotalsShape *shape = NULL;

/* A statement of the batch, as the collector knows it */
typedef struct TotalsKey
{
	int64		queryid;
	Oid			userid;
	Oid			dbid;
	bool		toplevel;
	bool		overflow;
} TotalsKey;

typedef struct TotalsEntry
{
	TotalsKey	key;
	Datum	   *values;
	bool	   *nulls;
} TotalsEntry;

/*
 * Where this worker last wrote each key's total, so that the next batch
 * fetches it there rather than searching the index; the row found must
 * still be visible and have the key, else the index is searched.
 * Forgotten when it grows past KNOWN_MAX keys, or the table changes.
 */
typedef struct KnownTotal
{
	TotalsKey	key;
	ItemPointerData tid;
} KnownTotal;

#define KNOWN_MAX	100000
static HTAB *known = NULL;

/*
 * A batch exported but not yet added to the totals, kept with the memory
 * context it lives in; "pending" has them in the order exported.
 */
typedef struct PendingBatch
{
	PgsmBatch  *batch;
	MemoryContext cxt;
} PendingBatch;

static List *pending = NIL;
static int	folded = 0;			/* the first ones, being added */

static void
unsupported(Relation rel, const char *column, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot add to column \"%s\" of %s: %s", column,
					RelationGetRelationName(rel), why),
			 errhint("The columns of pg_stat_monitor_totals are the extension's own; ALTER EXTENSION pg_stat_monitor UPDATE restores them.")));
}

/*
 * Read the table's shape: its unique index's columns, and for every other
 * column its rule (pgsm_combine_rule(), by SPI) and where its value comes
 * from.
 */
static TotalsShape *
read_shape(Relation rel, Relation index, PgsmBatch *batch, const char *schema)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	TotalsShape *s = palloc0(sizeof(TotalsShape));
	Oid			argtype = OIDOID;
	Datum		arg;
	char	   *sql;

	MemoryContextSwitchTo(old);
	s->relid = RelationGetRelid(rel);
	s->indexid = RelationGetRelid(index);
	s->natts = desc->natts;
	s->cols = MemoryContextAllocZero(TopMemoryContext, sizeof(TotalsColumn) * desc->natts);
	for (int a = 0; a < desc->natts; a++)
		s->cols[a].source = -1; /* a dropped column stays NULL */
	s->nkeys = IndexRelationGetNumberOfKeyAttributes(index);
	for (int i = 0; i < s->nkeys; i++)
	{
		Oid			opfamily = index->rd_opfamily[i];
		Oid			type = index->rd_opcintype[i];

		s->keys[i] = index->rd_index->indkey.values[i];
		if (s->keys[i] <= 0)
			unsupported(rel, RelationGetRelationName(index), "its unique index has an expression");
		fmgr_info_cxt(get_opcode(get_opfamily_member(opfamily, type, type,
													 BTEqualStrategyNumber)),
					  &s->eq[i], TopMemoryContext);
		s->keycoll[i] = index->rd_indcollation[i];
		s->cols[s->keys[i] - 1].rule = RULE_KEY;
	}

	/* the rule of every column, in one query */
	arg = ObjectIdGetDatum(RelationGetRelid(rel));
	sql = psprintf("SELECT a.attnum, r.rule, r.count_col, r.total_col"
				   " FROM pg_catalog.pg_attribute a, %s.pgsm_combine_rule(a.attname::pg_catalog.text) r"
				   " WHERE a.attrelid OPERATOR(pg_catalog.=) $1"
				   " AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped", schema);
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the rules of %s", RelationGetRelationName(rel));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	rd = SPI_tuptable->tupdesc;
		bool		isnull;
		int			a = DatumGetInt16(SPI_getbinval(row, rd, 1, &isnull)) - 1;
		Form_pg_attribute att = TupleDescAttr(desc, a);
		TotalsColumn *c = &s->cols[a];
		const char *name = NameStr(att->attname);
		char	   *rule = SPI_getvalue(row, rd, 2);

		c->count = c->total = -1;
		c->type = att->atttypid;
		c->collation = att->attcollation;
		c->typlen = att->attlen;
		c->typbyval = att->attbyval;
		if (strcmp(name, "query") == 0)
			c->query = true;
		else
			c->source = pgsm_history_column(batch, strcmp(name, "stats_since") == 0 ?
											"bucket_start_time" : name);
		if (c->source < 0 && !c->query)
			unsupported(rel, name, "history has no column of that name");
		if (c->rule == RULE_KEY)
			continue;

		if (strcmp(rule, "least") == 0 || strcmp(rule, "greatest") == 0)
		{
			TypeCacheEntry *tc = lookup_type_cache(c->type, TYPECACHE_CMP_PROC_FINFO);

			if (!OidIsValid(tc->cmp_proc))
				unsupported(rel, name, "its type has no ordering");
			c->cmp = &tc->cmp_proc_finfo;
			c->rule = rule[0] == 'l' ? RULE_LEAST : RULE_GREATEST;
		}
		else if (strcmp(rule, "min") == 0 || strcmp(rule, "max") == 0 ||
				 strcmp(rule, "variance") == 0)
		{
			c->rule = strcmp(rule, "min") == 0 ? RULE_MIN :
				strcmp(rule, "max") == 0 ? RULE_MAX : RULE_VARIANCE;
			c->count = attnameAttNum(rel, SPI_getvalue(row, rd, 3), false) - 1;
			c->total = attnameAttNum(rel, SPI_getvalue(row, rd, 4), false) - 1;
			if (c->type != FLOAT8OID || c->count < 0 ||
				TupleDescAttr(desc, c->count)->atttypid != INT8OID ||
				(c->rule == RULE_VARIANCE &&
				 (c->total < 0 || TupleDescAttr(desc, c->total)->atttypid != FLOAT8OID)))
				unsupported(rel, name, "its rule needs float8 times and int8 counts");
		}
		else if (strcmp(rule, "sum") == 0)
		{
			c->rule = RULE_SUM;
			if (c->type != INT8OID && c->type != FLOAT8OID && c->type != NUMERICOID)
				unsupported(rel, name, "only int8, float8 and numeric are summed");
		}
		else
			unsupported(rel, name, psprintf("rule \"%s\" is not one the worker follows", rule));
	}
	s->wanted = MemoryContextAllocZero(TopMemoryContext,
									   sizeof(bool) * pgsm_history_ncols(batch));
	for (int a = 0; a < desc->natts; a++)
	{
		if (!TupleDescAttr(desc, a)->attisdropped && s->cols[a].rule == RULE_NONE)
			unsupported(rel, NameStr(TupleDescAttr(desc, a)->attname), "it has no rule");
		if (s->cols[a].source >= 0)
			s->wanted[s->cols[a].source] = true;
	}
	return s;
}

/* a + b by the rule of column c; a and b are rows of the table */
static void
combine(const TotalsColumn *cols, int natts, Datum *av, bool *an,
		const Datum *bv, const bool *bn, Datum *out, bool *outnull)
{
	for (int i = 0; i < natts; i++)
	{
		const TotalsColumn *c = &cols[i];

		outnull[i] = false;
		if (c->rule == RULE_KEY || bn[i])
		{
			out[i] = av[i];
			outnull[i] = an[i];
			continue;
		}
		if (an[i])
		{
			out[i] = bv[i];
			continue;
		}
		switch (c->rule)
		{
			case RULE_LEAST:
			case RULE_GREATEST:
				{
					int32		cmp = DatumGetInt32(FunctionCall2Coll(c->cmp,
																	  c->collation,
																	  av[i], bv[i]));

					out[i] = (c->rule == RULE_LEAST) == (cmp <= 0) ? av[i] : bv[i];
					break;
				}
			case RULE_MIN:
			case RULE_MAX:
				{
					bool		a_has = DatumGetInt64(av[c->count]) > 0;
					bool		b_has = DatumGetInt64(bv[c->count]) > 0;
					double		a = DatumGetFloat8(av[i]);
					double		b = DatumGetFloat8(bv[i]);

					if (a_has && b_has)
						out[i] = Float8GetDatum(c->rule == RULE_MIN ? Min(a, b) : Max(a, b));
					else
						out[i] = Float8GetDatum(a_has ? a : b_has ? b : 0.0);
					break;
				}
			case RULE_VARIANCE:
				{
					/* the parts' sums of squares about their own means, moved to the common one */
					int64		an_ = DatumGetInt64(av[c->count]);
					int64		bn_ = DatumGetInt64(bv[c->count]);
					double		at = DatumGetFloat8(av[c->total]);
					double		bt = DatumGetFloat8(bv[c->total]);
					double		v;

					if (an_ + bn_ <= 0)
					{
						out[i] = Float8GetDatum(0.0);
						break;
					}
					v = DatumGetFloat8(av[i]) + DatumGetFloat8(bv[i]) +
						(an_ > 0 ? pow(at, 2.0) / (double) an_ : 0.0) +
						(bn_ > 0 ? pow(bt, 2.0) / (double) bn_ : 0.0) -
						pow(at + bt, 2.0) / (double) (an_ + bn_);
					out[i] = Float8GetDatum(Max(0.0, v));
					break;
				}
			case RULE_SUM:
				if (c->type == INT8OID)
					out[i] = DirectFunctionCall2(int8pl, av[i], bv[i]);
				else if (c->type == FLOAT8OID)
					out[i] = DirectFunctionCall2(float8pl, av[i], bv[i]);
				else
					out[i] = DirectFunctionCall2(numeric_add, av[i], bv[i]);
				break;
			case RULE_NONE:
			case RULE_KEY:
				break;
		}
	}
}

static void
forget_known(void)
{
	HASHCTL		ctl;

	if (known)
		hash_destroy(known);
	ctl.keysize = sizeof(TotalsKey);
	ctl.entrysize = sizeof(KnownTotal);
	ctl.hcxt = TopMemoryContext;
	known = hash_create("pg_stat_monitor totals written", 1024, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Whether the values of two rows agree on the key */
static bool
same_key(const Datum *av, const bool *an, const Datum *bv, const bool *bn)
{
	for (int i = 0; i < shape->nkeys; i++)
	{
		int			a = shape->keys[i] - 1;

		if (an[a] != bn[a])
			return false;
		if (!an[a] && !DatumGetBool(FunctionCall2Coll(&shape->eq[i], shape->keycoll[i],
													  av[a], bv[a])))
			return false;
	}
	return true;
}

/*
 * The total of group g where this worker last wrote it, if it is still
 * there: visible, and of that key.  Its values go to oldv and oldn.
 */
static bool
fetch_total(Relation rel, Snapshot snapshot, BlockNumber nblocks,
			const TotalsEntry *g, ItemPointer tid, Datum *oldv, bool *oldn)
{
	HeapTupleData tuple;
	Buffer		buf;
	bool		ok;

	if (ItemPointerGetBlockNumber(tid) >= nblocks)
		return false;
	tuple.t_self = *tid;
	if (!heap_fetch(rel, snapshot, &tuple, &buf, false))
		return false;
	heap_deform_tuple(&tuple, RelationGetDescr(rel), oldv, oldn);
	ok = same_key(oldv, oldn, g->values, g->nulls);
	/* the values outlive the buffer */
	if (ok)
		for (int a = 0; a < RelationGetDescr(rel)->natts; a++)
			if (!oldn[a])
				oldv[a] = datumCopy(oldv[a], shape->cols[a].typbyval, shape->cols[a].typlen);
	ReleaseBuffer(buf);
	return ok;
}

/* The total of group g, searched for through the unique index */
static bool
search_total(Relation rel, Snapshot snapshot, const TotalsEntry *g,
			 ItemPointer tid, Datum *oldv, bool *oldn)
{
	ScanKeyData sk[INDEX_MAX_KEYS];
	SysScanDesc scan;
	HeapTuple	found;

	for (int i = 0; i < shape->nkeys; i++)
	{
		int			a = shape->keys[i] - 1;

		if (g->nulls[a])
			ScanKeyEntryInitialize(&sk[i], SK_ISNULL | SK_SEARCHNULL, shape->keys[i],
								   InvalidStrategy, InvalidOid, InvalidOid,
								   InvalidOid, (Datum) 0);
		else
			ScanKeyEntryInitialize(&sk[i], 0, shape->keys[i], BTEqualStrategyNumber,
								   InvalidOid, shape->keycoll[i], shape->eq[i].fn_oid,
								   g->values[a]);
	}
	scan = systable_beginscan(rel, shape->indexid, true, snapshot,
							  shape->nkeys, sk);
	found = systable_getnext(scan);
	if (found)
	{
		found = heap_copytuple(found);
		*tid = found->t_self;
		heap_deform_tuple(found, RelationGetDescr(rel), oldv, oldn);
	}
	systable_endscan(scan);
	return found != NULL;
}

/*
 * The statements of the first "nbatches" pending batches, combined per key,
 * in the current memory context.
 */
static HTAB *
group_pending(TupleDesc desc, int nbatches)
{
	PgsmBatch  *first = ((PendingBatch *) linitial(pending))->batch;
	int			nhist = pgsm_history_ncols(first);
	Datum	   *hv = palloc(sizeof(Datum) * nhist);
	bool	   *hn = palloc(sizeof(bool) * nhist);
	Datum	   *merged = palloc(sizeof(Datum) * desc->natts);
	bool	   *mergednull = palloc(sizeof(bool) * desc->natts);
	Datum	   *rowv = palloc(sizeof(Datum) * desc->natts);
	bool	   *rown = palloc(sizeof(bool) * desc->natts);
	HTAB	   *groups;
	HASHCTL		ctl;
	MemoryContext row_cxt;
	MemoryContext old;
	ListCell   *lc;
	long		nentries = 0;

	foreach(lc, pending)
	{
		if (foreach_current_index(lc) >= nbatches)
			break;
		nentries += pgsm_batch_entries(((PendingBatch *) lfirst(lc))->batch);
	}
	ctl.keysize = sizeof(TotalsKey);
	ctl.entrysize = sizeof(TotalsEntry);
	ctl.hcxt = CurrentMemoryContext;
	groups = hash_create("pg_stat_monitor totals", Max(nentries, 16), &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_stat_monitor totals row",
									ALLOCSET_DEFAULT_SIZES);
	foreach(lc, pending)
	{
		PgsmBatch  *batch = ((PendingBatch *) lfirst(lc))->batch;
		PgsmSnapshot *snap = pgsm_batch_snapshot(batch);

		if (foreach_current_index(lc) >= nbatches)
			break;
		for (int n = 0; n < snap->nentries; n++)
		{
			PgsmEntry  *e = PgsmSnapshotEntry(snap, n);
			TotalsEntry *g;
			TotalsKey	key;
			bool		found;

			if (e->key.elevel != 0)
				continue;
			memset(&key, 0, sizeof(key));
			key.queryid = e->key.overflow ? 0 : e->key.queryid;
			key.userid = e->key.userid;
			key.dbid = e->key.dbid;
			key.toplevel = e->key.toplevel;
			key.overflow = e->key.overflow;
			g = hash_search(groups, &key, HASH_ENTER, &found);

			old = MemoryContextSwitchTo(row_cxt);
			pgsm_batch_row_values(batch, n, hv, hn, shape->wanted);
			for (int a = 0; a < desc->natts; a++)
			{
				const TotalsColumn *c = &shape->cols[a];

				if (c->query)
					rowv[a] = pgsm_batch_text(batch, n, PGSM_TEXT_QUERY, &rown[a]);
				else if (c->source >= 0)
				{
					rown[a] = hn[c->source];
					rowv[a] = hv[c->source];
				}
				else
					rown[a] = true;
			}
			if (found)
				combine(shape->cols, desc->natts, g->values, g->nulls, rowv, rown,
						merged, mergednull);
			MemoryContextSwitchTo(old);

			/* what the group keeps, out of the row's memory */
			if (!found)
			{
				g->values = palloc(sizeof(Datum) * desc->natts);
				g->nulls = palloc(sizeof(bool) * desc->natts);
			}
			for (int a = 0; a < desc->natts; a++)
			{
				const TotalsColumn *c = &shape->cols[a];
				Datum		d = found ? merged[a] : rowv[a];
				bool		isnull = found ? mergednull[a] : rown[a];

				Datum		was = g->values[a];
				bool		had = found && !g->nulls[a] && !c->typbyval;

				/* copied before the old value goes: the sum may be it */
				g->nulls[a] = isnull;
				g->values[a] = isnull ? (Datum) 0 : datumCopy(d, c->typbyval, c->typlen);
				if (had)
					pfree(DatumGetPointer(was));
			}
			MemoryContextReset(row_cxt);
		}
	}
	MemoryContextDelete(row_cxt);
	return groups;
}

/*
 * Each group's total in the table (open, with its unique index): replaced
 * by its sum with the group, or inserted.
 */
static void
write_totals(Relation rel, HTAB *groups)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *merged = palloc(sizeof(Datum) * desc->natts);
	bool	   *mergednull = palloc(sizeof(bool) * desc->natts);
	Datum	   *oldv = palloc(sizeof(Datum) * desc->natts);
	bool	   *oldn = palloc(sizeof(bool) * desc->natts);
	MemoryContext row_cxt;
	MemoryContext old;
	ResultRelInfo *rri;
	EState	   *estate;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	BlockNumber nblocks;
	HASH_SEQ_STATUS seq;
	TotalsEntry *g;

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_stat_monitor totals row",
									ALLOCSET_DEFAULT_SIZES);
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	nblocks = RelationGetNumberOfBlocks(rel);
	if (known == NULL)
		forget_known();
	hash_seq_init(&seq, groups);
	while ((g = hash_seq_search(&seq)) != NULL)
	{
		HeapTuple	tup;
		PgsmIndexUpdate update = PGSM_INDEX_ALL;
		KnownTotal *k;
		ItemPointerData tid;
		bool		found;

		old = MemoryContextSwitchTo(row_cxt);
		k = hash_search(known, &g->key, HASH_FIND, NULL);
		if (k != NULL && fetch_total(rel, snapshot, nblocks, g, &k->tid, oldv, oldn))
		{
			tid = k->tid;
			found = true;
		}
		else
			found = search_total(rel, snapshot, g, &tid, oldv, oldn);
		if (found)
		{
			combine(shape->cols, desc->natts, oldv, oldn, g->values, g->nulls,
					merged, mergednull);
			tup = heap_form_tuple(desc, merged, mergednull);
			update = pgsm_heap_update(rel, &tid, tup);
		}
		else
		{
			tup = heap_form_tuple(desc, g->values, g->nulls);
			simple_heap_insert(rel, tup);
		}
		if (hash_get_num_entries(known) >= KNOWN_MAX)
			forget_known();
		k = hash_search(known, &g->key, HASH_ENTER, NULL);
		k->tid = tup->t_self;
		if (update != PGSM_INDEX_NONE)
		{
			ExecStoreHeapTuple(tup, slot, false);
			(void) pgsm_insert_index_tuples(rri, slot, estate,
											update == PGSM_INDEX_SUMMARIZING);
			ExecClearTuple(slot);
		}
		MemoryContextSwitchTo(old);
		ResetPerTupleExprContext(estate);
		MemoryContextReset(row_cxt);
	}
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	MemoryContextDelete(row_cxt);
}

/*
 * Keep an exported batch, and the memory context it lives in, until its
 * statements are added to the totals: its export has committed, with its
 * row of pg_stat_monitor_exports marked pending.
 */
void
pgsm_totals_pend(PgsmBatch *batch, MemoryContext cxt)
{
	PendingBatch *p;
	MemoryContext old;

	pgsm_batch_trim(batch);
	old = MemoryContextSwitchTo(TopMemoryContext);
	p = palloc(sizeof(PendingBatch));
	p->batch = batch;
	p->cxt = cxt;
	pending = lappend(pending, p);
	MemoryContextSwitchTo(old);
}

/* Whether this worker keeps batches not yet added to the totals */
bool
pgsm_totals_pending(void)
{
	return pending != NIL;
}

/* The memory the pending batches take */
Size
pgsm_totals_pending_bytes(void)
{
	Size		bytes = 0;
	ListCell   *lc;

	foreach(lc, pending)
		bytes += MemoryContextMemAllocated(((PendingBatch *) lfirst(lc))->cxt, true);
	return bytes;
}

/* Let the pending batches go: they are in the totals, or will be from history */
void
pgsm_totals_forget(void)
{
	ListCell   *lc;

	foreach(lc, pending)
	{
		MemoryContextDelete(((PendingBatch *) lfirst(lc))->cxt);
		pfree(lfirst(lc));
	}
	list_free(pending);
	pending = NIL;
	folded = 0;
}

/* Let pending batch i go */
static void
drop_pending(int i)
{
	PendingBatch *p = list_nth(pending, i);

	MemoryContextDelete(p->cxt);
	pfree(p);
	pending = list_delete_nth_cell(pending, i);
}

/*
 * Add batches pending in this database (pg_stat_monitor_exports rows with
 * totals_pending_since; "schema" unquoted, "quoted" as SQL wants it) to
 * pg_stat_monitor_totals, and mark them added; in a transaction, with SPI
 * connected.  The rows of every pending batch are locked first, as
 * pgsm_fold_totals() and a reset lock them.  A pending batch this worker
 * does not keep (it restarted, or an attempt failed) is added from history,
 * by pgsm_add_totals(); a batch it keeps that is no longer pending (added
 * from history by someone else, or reset) is let go.  Of those it keeps, it
 * adds the oldest, and (unless "one") with it the next ones as long as
 * they hold no more entries than the store can and the store does not ask
 * for an export, so that a flood of new statements waits no longer than
 * about one export.  Returns how many batches it added in all;
 * the caller lets go of those it added from memory once the transaction
 * has committed (pgsm_totals_added), or of all it keeps if it failed.
 */
int
pgsm_totals_fold(const char *schema, const char *quoted, bool one)
{
	Relation	rel;
	Relation	index;
	Oid			indexid;
	TupleDesc	desc;
	SPITupleTable *locked;
	uint64		nlocked;
	bool	   *kept;
	int			added = 0;
	int			slice;
	int			entries;
	PgsmStoreInfo store;
	char	   *sql;

	sql = psprintf("SELECT x.batch_id, x.server_name, x.totals_pending_since"
				   " FROM %s.pg_stat_monitor_exports x"
				   " WHERE x.totals_pending_since IS NOT NULL"
				   " ORDER BY x.batch_id FOR UPDATE", quoted);
	if (SPI_execute(sql, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the batches pending in %s.pg_stat_monitor_exports",
			 quoted);
	locked = SPI_tuptable;
	nlocked = SPI_processed;
	kept = palloc0(sizeof(bool) * Max(nlocked, 1));

	/*
	 * What this worker keeps that is no longer pending goes.  Both lists
	 * are in the order of batch ids (those of the store only grow), so one
	 * pass over each matches them.
	 */
	{
		uint64		r = 0;
		int			i = 0;

		while (i < list_length(pending))
		{
			PendingBatch *p = list_nth(pending, i);
			bool		found = false;

			for (; r < nlocked; r++)
			{
				bool		isnull;
				int64		id = DatumGetInt64(SPI_getbinval(locked->vals[r],
															 locked->tupdesc, 1, &isnull));

				if (id > (int64) pgsm_batch_id(p->batch))
					break;
				if (id == (int64) pgsm_batch_id(p->batch) &&
					strcmp(SPI_getvalue(locked->vals[r], locked->tupdesc, 2),
						   pgsm_batch_server_name(p->batch)) == 0)
				{
					found = kept[r++] = true;
					break;
				}
			}
			if (found)
				i++;
			else
				drop_pending(i);
		}
	}

	/* what is pending and not kept is added from history */
	sql = psprintf("SELECT %s.pgsm_add_totals($1, $3, $2)", quoted);
	for (uint64 r = 0; r < nlocked; r++)
	{
		Oid			types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
		Datum		values[3];
		bool		isnull;

		if (kept[r])
			continue;
		/* batch_id, server_name, totals_pending_since, as locked above */
		for (int c = 0; c < 3; c++)
			values[c] = SPI_getbinval(locked->vals[r], locked->tupdesc, c + 1, &isnull);
		if (SPI_execute_with_args(sql, 3, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not add batch " INT64_FORMAT " to the totals",
				 DatumGetInt64(values[0]));
		added++;
	}
	if (added > 0)
		ereport(DEBUG1,
				(errmsg_internal("pg_stat_monitor: added %d exported batches to the totals from history",
								 added)));
	if (pending == NIL)
		return added;

	/*
	 * The oldest batches kept: as many as the store holds entries at most
	 * (so that this takes about as long as an export of a full store), and
	 * as long as the store does not ask for an export.
	 */
	pgsm_store_info(&store);
	entries = pgsm_batch_entries(((PendingBatch *) linitial(pending))->batch);
	for (slice = 1; !one && slice < list_length(pending); slice++)
	{
		int			more = pgsm_batch_entries(((PendingBatch *) list_nth(pending, slice))->batch);

		if (entries + more > store.max_entries || pgsm_store_flush_wanted())
			break;
		entries += more;
	}

	rel = table_openrv(makeRangeVar((char *) schema, "pg_stat_monitor_totals", -1),
					   RowExclusiveLock);
	indexid = get_relname_relid("pg_stat_monitor_totals_key", RelationGetNamespace(rel));
	if (!OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("index \"pg_stat_monitor_totals_key\" of %s.pg_stat_monitor_totals does not exist",
						quoted),
				 errhint("ALTER EXTENSION pg_stat_monitor UPDATE, or DROP EXTENSION and CREATE EXTENSION, makes it again.")));
	index = index_open(indexid, RowExclusiveLock);
	if (!index->rd_index->indisunique || index->rd_index->indrelid != RelationGetRelid(rel))
		unsupported(rel, RelationGetRelationName(index), "it is not the table's unique index");
	desc = RelationGetDescr(rel);
	if (shape == NULL || shape->relid != RelationGetRelid(rel) ||
		shape->indexid != RelationGetRelid(index) || shape->natts != desc->natts)
	{
		forget_known();
		if (shape)
		{
			pfree(shape->cols);
			pfree(shape->wanted);
			pfree(shape);
			shape = NULL;
		}
		shape = read_shape(rel, index, ((PendingBatch *) linitial(pending))->batch, quoted);
	}

	write_totals(rel, group_pending(desc, slice));
	index_close(index, NoLock);
	table_close(rel, NoLock);
	CommandCounterIncrement();

	sql = psprintf("UPDATE %s.pg_stat_monitor_exports SET totals_pending_since = NULL"
				   " WHERE batch_id OPERATOR(pg_catalog.=) $1"
				   " AND server_name OPERATOR(pg_catalog.=) $2", quoted);
	for (int i = 0; i < slice; i++)
	{
		PendingBatch *p = list_nth(pending, i);
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		values[2];

		values[0] = Int64GetDatum((int64) pgsm_batch_id(p->batch));
		values[1] = CStringGetTextDatum(pgsm_batch_server_name(p->batch));
		if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) != SPI_OK_UPDATE ||
			SPI_processed != 1)
			elog(ERROR, "could not mark batch " UINT64_FORMAT " added in %s.pg_stat_monitor_exports",
				 pgsm_batch_id(p->batch), quoted);
	}
	folded = slice;
	return added + slice;
}

/* The transaction of pgsm_totals_fold() has committed: let its batches go */
void
pgsm_totals_added(void)
{
	for (; folded > 0; folded--)
		drop_pending(0);
}
