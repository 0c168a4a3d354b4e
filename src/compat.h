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

#include "common/hashfn.h"
#include "nodes/plannodes.h"

/* The query jumble moved from utils/ to nodes/ in PostgreSQL 16. */
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
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
 * renamed the fields; 15 has one pair, which is what the view shows.
 */
#if PG_VERSION_NUM >= 170000
#define PGSM_BLK_READ_TIME(bu)	((bu)->shared_blk_read_time)
#define PGSM_BLK_WRITE_TIME(bu) ((bu)->shared_blk_write_time)
#else
#define PGSM_BLK_READ_TIME(bu)	((bu)->blk_read_time)
#define PGSM_BLK_WRITE_TIME(bu) ((bu)->blk_write_time)
#endif

/* ExecutorRun lost its execute_once argument in PostgreSQL 18. */
#if PG_VERSION_NUM >= 180000
#define PGSM_EXECUTOR_RUN_ARGS	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define PGSM_EXECUTOR_RUN_CALL	queryDesc, direction, count
#else
#define PGSM_EXECUTOR_RUN_ARGS	QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define PGSM_EXECUTOR_RUN_CALL	queryDesc, direction, count, execute_once
#endif

#endif							/* PGSM_COMPAT_H */
