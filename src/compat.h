/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Differences between the PostgreSQL versions pg_stat_monitor builds
 *		against, gathered in one place.
 *
 * PostgreSQL 15 is the version this fork targets.  Anything that has to
 * read differently on another version goes here, so that the other files
 * read as plain code.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSM_COMPAT_H
#define PGSM_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pg_stat_monitor requires PostgreSQL 15 or later"
#endif

#include "access/heapam.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "nodes/plannodes.h"

/* The query jumble moved from utils/ to nodes/ in PostgreSQL 16. */
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
#endif

/*
 * An instr_time in nanoseconds: up to PostgreSQL 15 it is a struct
 * timespec; from 16 on, a count of nanoseconds on Linux, which the core
 * converts.
 */
#if PG_VERSION_NUM >= 160000
#define PGSM_INSTR_TIME_NS(t)	((int64) INSTR_TIME_GET_NANOSEC(t))
#else
#define PGSM_INSTR_TIME_NS(t) \
	((int64) (t).tv_sec * INT64CONST(1000000000) + (t).tv_nsec)
#endif

/*
 * The query id of a utility statement whose id a hook before ours cleared
 * (pg_stat_statements does).  Up to PostgreSQL 15 the core's id of a
 * utility statement is a hash of its text; from 16 on, it is a jumble of
 * its parse tree, taken here from a Query as parse analysis makes it.
 */
#if PG_VERSION_NUM >= 160000
static inline uint64
pgsm_utility_jumble(PlannedStmt *pstmt, const char *sql, int len)
{
	Query	   *query = makeNode(Query);

	query->commandType = CMD_UTILITY;
	query->utilityStmt = pstmt->utilityStmt;
	query->stmt_location = pstmt->stmt_location;
	query->stmt_len = pstmt->stmt_len;
	JumbleQuery(query);
	return query->queryId;
}
#else
static inline uint64
pgsm_utility_jumble(PlannedStmt *pstmt, const char *sql, int len)
{
	uint64		id = hash_bytes_extended((const unsigned char *) sql, len, 0);

	/* as the core does: 0 means "none", and 1 is taken */
	return id != UINT64CONST(0) ? id : UINT64CONST(2);
}
#endif

/*
 * DEALLOCATE is recorded as a statement of its own from PostgreSQL 17 on,
 * as pg_stat_statements does there; before, it is left out.
 */
#define PGSM_TRACK_DEALLOCATE	(PG_VERSION_NUM >= 170000)

/* PostgreSQL 18 moved ExplainState and the output framing out of explain.h. */
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

/*
 * PostgreSQL 17 split the block I/O timings into shared and local ones and
 * renamed the fields; 15 has one pair, for shared and local blocks together.
 */
#if PG_VERSION_NUM >= 170000
#define PGSM_BLK_READ_TIME(bu)	((bu)->shared_blk_read_time)
#define PGSM_BLK_WRITE_TIME(bu) ((bu)->shared_blk_write_time)
#else
#define PGSM_BLK_READ_TIME(bu)	((bu)->blk_read_time)
#define PGSM_BLK_WRITE_TIME(bu) ((bu)->blk_write_time)
#endif

/*
 * Counters that only some versions measure.  PGSM_MEASURES_* says whether
 * this one does: where it does not, the functions return NULL for them (see
 * pgsm_view_columns() in the SQL for which columns each version's views
 * show).  PostgreSQL 17 times local block I/O apart and counts JIT tuple
 * deforming; 18 counts WAL writes forced by full WAL buffers and the
 * parallel workers a statement planned and got.
 */
#if PG_VERSION_NUM >= 170000
#define PGSM_MEASURES_17	true
#define PGSM_LOCAL_BLK_READ_TIME(bu)	INSTR_TIME_GET_MILLISEC((bu)->local_blk_read_time)
#define PGSM_LOCAL_BLK_WRITE_TIME(bu)	INSTR_TIME_GET_MILLISEC((bu)->local_blk_write_time)
#define PGSM_JIT_DEFORM_COUNT(ji)	(!INSTR_TIME_IS_ZERO((ji)->deform_counter))
#define PGSM_JIT_DEFORM_TIME(ji)	INSTR_TIME_GET_MILLISEC((ji)->deform_counter)
#else
#define PGSM_MEASURES_17	false
#define PGSM_LOCAL_BLK_READ_TIME(bu)	0.0
#define PGSM_LOCAL_BLK_WRITE_TIME(bu)	0.0
#define PGSM_JIT_DEFORM_COUNT(ji)	0
#define PGSM_JIT_DEFORM_TIME(ji)	0.0
#endif

#if PG_VERSION_NUM >= 180000
#define PGSM_MEASURES_18	true
#define PGSM_WAL_BUFFERS_FULL(wu)	((wu)->wal_buffers_full)
#define PGSM_PARALLEL_WORKERS_TO_LAUNCH(es) ((es)->es_parallel_workers_to_launch)
#define PGSM_PARALLEL_WORKERS_LAUNCHED(es)	((es)->es_parallel_workers_launched)
#else
#define PGSM_MEASURES_18	false
#define PGSM_WAL_BUFFERS_FULL(wu)	0
#define PGSM_PARALLEL_WORKERS_TO_LAUNCH(es) 0
#define PGSM_PARALLEL_WORKERS_LAUNCHED(es)	0
#endif

/* The backend's local transaction id moved into PGPROC.vxid in PostgreSQL 17. */
#if PG_VERSION_NUM >= 170000
#define PGSM_MY_LXID	(MyProc->vxid.lxid)
#else
#define PGSM_MY_LXID	(MyProc->lxid)
#endif

/* ExecutorRun lost its execute_once argument in PostgreSQL 18. */
#if PG_VERSION_NUM >= 180000
#define PGSM_EXECUTOR_RUN_ARGS	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define PGSM_EXECUTOR_RUN_CALL	queryDesc, direction, count
#else
#define PGSM_EXECUTOR_RUN_ARGS	QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define PGSM_EXECUTOR_RUN_CALL	queryDesc, direction, count, execute_once
#endif

/*
 * A row updated in place of another, and which index entries the new
 * version needs: none when it is heap-only (HOT).  PostgreSQL 16 says so
 * itself, and tells apart the versions that need only summarizing indexes
 * (BRIN); 15 leaves it to be read off the tuple.
 */
typedef enum PgsmIndexUpdate
{
	PGSM_INDEX_NONE,
	PGSM_INDEX_SUMMARIZING,
	PGSM_INDEX_ALL
} PgsmIndexUpdate;

static inline PgsmIndexUpdate
pgsm_heap_update(Relation rel, ItemPointer otid, HeapTuple tup)
{
#if PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update;

	simple_heap_update(rel, otid, tup, &update);
	return update == TU_None ? PGSM_INDEX_NONE :
		update == TU_Summarizing ? PGSM_INDEX_SUMMARIZING : PGSM_INDEX_ALL;
#else
	simple_heap_update(rel, otid, tup);
	return HeapTupleIsHeapOnly(tup) ? PGSM_INDEX_NONE : PGSM_INDEX_ALL;
#endif
}

/*
 * Index entries for a row just written, none of them deferred; from
 * PostgreSQL 16 on, only those of summarizing indexes if so asked.
 */
#if PG_VERSION_NUM >= 160000
#define pgsm_insert_index_tuples(rri, slot, estate, only_summarizing) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, \
						  (only_summarizing))
#else
#define pgsm_insert_index_tuples(rri, slot, estate, only_summarizing) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/* The primary key of a table, or InvalidOid; 18 may also take a deferrable one */
#if PG_VERSION_NUM >= 180000
#define pgsm_primary_key(rel)	RelationGetPrimaryKeyIndex((rel), false)
#else
#define pgsm_primary_key(rel)	RelationGetPrimaryKeyIndex(rel)
#endif

/* An index scan; PostgreSQL 18 takes a place for its instrumentation */
#if PG_VERSION_NUM >= 180000
#define pgsm_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), 0)
#else
#define pgsm_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), 0)
#endif

#endif							/* PGSM_COMPAT_H */
