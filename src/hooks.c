/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		The collector: executor, planner, utility and error hooks.
 *
 * Each hook measures one statement and hands the figures to the store.
 * The hooks touch nothing but shared memory: no SPI, no table writes and no
 * catalog access that can fail.  The per-statement path is kept short: a
 * statement whose entry exists costs a hash of its key, a shared lock and a
 * spinlock.  Only when an entry is made are its texts built (the query
 * normalized, its comments and relations collected), with no lock held.
 *
 * Every hook calls the hook it replaced.  Nesting is tracked as in
 * pg_stat_statements, so that pg_stat_monitor.pgsm_track = top records only
 * statements issued by the client, and all records nested ones too.
 * Parallel workers and pg_stat_monitor's own worker are never recorded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "access/parallel.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "jit/jit.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "parser/scansup.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/backend_status.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pgsm.h"

/* Set in pg_stat_monitor's worker, whose own statements are not recorded */
bool		pgsm_in_worker = false;

static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static planner_hook_type prev_planner_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/* Nesting of executor and utility calls, and of planner calls */
static int	exec_nested_level = 0;
static int	plan_nested_level = 0;

/*
 * Where the current top-level statement sits in debug_query_string, noted
 * at parse analysis so that an error can be attributed to the statement
 * rather than to the whole string.  stmt_source is NULL when unknown.
 */
static const char *stmt_source = NULL;
static int	stmt_location = -1;
static int	stmt_len = 0;

/* Guards the error hook against recursion */
static bool in_error_hook = false;

/*
 * CPU time of the statements being executed, kept in each statement's
 * executor memory; the context's reset callback unlinks it, so an error
 * leaves nothing behind.
 */
typedef struct QueryCpu
{
	QueryDesc  *queryDesc;
	struct rusage start;
	MemoryContextCallback cb;
	struct QueryCpu *next;
} QueryCpu;

static QueryCpu *running_queries = NULL;

/* Everything a new entry's texts are built from */
typedef struct TextSource
{
	const char *source;			/* the query string */
	int			location;		/* this statement in it, or -1 */
	int			len;
	bool		nested;			/* also keep the top-level statement */
	const char *plan;			/* plan text, or NULL */
	int			plan_len;
	const char *message;		/* error message, or NULL */
	List	   *rtable;			/* relations, or NIL */
	CmdType		cmd_type;
} TextSource;

/*
 * Is this statement to be recorded?  Cheap checks first: this runs for
 * every statement of every backend.
 */
static inline bool
pgsm_enabled(int level)
{
	if (pgsm_track == PGSM_TRACK_NONE || pgsm_in_worker)
		return false;
	if (level > 0 && pgsm_track != PGSM_TRACK_ALL)
		return false;
	return !IsParallelWorker() && pgsm_store_ready();
}

/*
 * The key of a statement: everything but the query id is about the
 * session, and the client address is read once per backend.
 */
static void
make_key(PgsmKey *key, uint64 queryid, uint64 planid, int level)
{
	static bool addr_known = false;
	static uint8 addr_family = 0;
	static uint8 addr[16];
	static char appname[NAMEDATALEN];
	static uint64 appid = 0;

	MemSet(key, 0, sizeof(PgsmKey));

	if (!addr_known)
	{
		if (MyProcPort != NULL)
		{
			const struct sockaddr *sa =
				(const struct sockaddr *) &MyProcPort->raddr.addr;

			if (sa->sa_family == AF_INET)
			{
				addr_family = 4;
				memcpy(addr, &((const struct sockaddr_in *) sa)->sin_addr, 4);
			}
			else if (sa->sa_family == AF_INET6)
			{
				addr_family = 6;
				memcpy(addr, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
			}
		}
		addr_known = true;
	}

	key->bucket = pgsm_current_bucket(GetCurrentTimestamp());
	key->queryid = (int64) queryid;
	key->planid = (int64) planid;
	key->userid = GetUserId();
	key->dbid = MyDatabaseId;
	key->toplevel = (level == 0);
	if (level > 0)
		key->top_queryid = (int64) pgstat_get_my_query_id();
	key->addr_family = addr_family;
	memcpy(key->addr, addr, sizeof(addr));

	if (pgsm_track_application_names && application_name != NULL &&
		application_name[0] != '\0')
	{
		if (strncmp(appname, application_name, NAMEDATALEN) != 0)
		{
			strlcpy(appname, application_name, NAMEDATALEN);
			appid = hash_bytes_extended((const unsigned char *) appname,
										strlen(appname), 0);
		}
		key->appid = appid;
	}
}

/* The statement's own text: its part of the string, trimmed. */
static const char *
statement_text(const char *source, int location, int len, int *out_len)
{
	int			srclen = strlen(source);

	if (location >= 0 && location <= srclen)
	{
		source += location;
		srclen -= location;
		if (len > 0 && len <= srclen)
			srclen = len;
	}
	while (srclen > 0 && scanner_isspace(*source))
	{
		source++;
		srclen--;
	}
	while (srclen > 0 && scanner_isspace(source[srclen - 1]))
		srclen--;
	*out_len = srclen;
	return source;
}

/* Cut a text at a character boundary so that it fits "max" bytes. */
static int
clip(const char *s, int len, int max)
{
	if (len <= max)
		return len;
	return pg_mbcliplen(s, len, max);
}

/* "schema.name" of each table the statement reads or writes. */
static char *
relation_list(List *rtable)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		char	   *relname;
		char	   *nspname;

		if (rte->rtekind != RTE_RELATION)
			continue;
		relname = get_rel_name(rte->relid);
		nspname = get_namespace_name(get_rel_namespace(rte->relid));
		if (relname == NULL || nspname == NULL)
			continue;
		if (buf.len + strlen(relname) + strlen(nspname) + 2 >
			PGSM_RELATIONS_MAX_LEN)
			break;
		if (buf.len > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfo(&buf, "%s.%s", nspname, relname);
	}
	return buf.data;
}

/*
 * Build a new entry's texts.  Runs only when an entry is made, with no lock
 * held (the store's PgsmBuildTexts).
 */
static void
build_texts(void *arg, PgsmTexts *texts, int64 *pgsm_query_id,
			uint8 *cmd_type)
{
	TextSource *src = (TextSource *) arg;
	const char *stmt;
	int			len;
	char	   *query;
	StringInfoData comments;

	initStringInfo(&comments);
	stmt = statement_text(src->source, src->location, src->len, &len);
	query = pgsm_scan_query(stmt, len, pgsm_normalized_query,
							pgsm_extract_comments ? &comments : NULL);
	len = strlen(query);
	if (pgsm_enable_pgsm_query_id)
		*pgsm_query_id = (int64) hash_bytes_extended((const unsigned char *) query,
													 len, 0);
	texts->str[PGSM_TEXT_QUERY] = query;
	texts->len[PGSM_TEXT_QUERY] = clip(query, len, pgsm_query_max_len);

	if (src->nested && debug_query_string != NULL)
	{
		const char *top;
		int			toplen;
		char	   *topq;

		if (stmt_source == debug_query_string)
			top = statement_text(debug_query_string, stmt_location, stmt_len,
								 &toplen);
		else
			top = statement_text(debug_query_string, -1, 0, &toplen);
		topq = pgsm_scan_query(top, toplen, pgsm_normalized_query, NULL);
		texts->str[PGSM_TEXT_TOP_QUERY] = topq;
		texts->len[PGSM_TEXT_TOP_QUERY] = clip(topq, strlen(topq),
											   pgsm_query_max_len);
	}

	if (src->plan != NULL)
	{
		texts->str[PGSM_TEXT_PLAN] = src->plan;
		texts->len[PGSM_TEXT_PLAN] = clip(src->plan, src->plan_len,
										  pgsm_query_max_len);
	}

	if (src->message != NULL)
	{
		texts->str[PGSM_TEXT_MESSAGE] = src->message;
		texts->len[PGSM_TEXT_MESSAGE] = clip(src->message,
											 strlen(src->message),
											 PGSM_MESSAGE_MAX_LEN);
	}

	if (comments.len > 0)
	{
		texts->str[PGSM_TEXT_COMMENTS] = comments.data;
		texts->len[PGSM_TEXT_COMMENTS] = clip(comments.data, comments.len,
											  PGSM_COMMENTS_MAX_LEN);
	}

	if (src->rtable != NIL)
	{
		char	   *rels = relation_list(src->rtable);

		texts->str[PGSM_TEXT_RELATIONS] = rels;
		texts->len[PGSM_TEXT_RELATIONS] = strlen(rels);
	}

	if (pgsm_track_application_names && application_name != NULL)
	{
		texts->str[PGSM_TEXT_APPNAME] = application_name;
		texts->len[PGSM_TEXT_APPNAME] = clip(application_name,
											 strlen(application_name),
											 NAMEDATALEN - 1);
	}

	*cmd_type = (uint8) src->cmd_type;
}

static inline double
timeval_ms(const struct timeval *tv)
{
	return tv->tv_sec * 1000.0 + tv->tv_usec / 1000.0;
}

/* Copy one statement's buffer and WAL usage into its counters. */
static void
set_usage(PgsmCounters *c, const BufferUsage *bu, const WalUsage *wu)
{
	c->shared_blks_hit = bu->shared_blks_hit;
	c->shared_blks_read = bu->shared_blks_read;
	c->shared_blks_dirtied = bu->shared_blks_dirtied;
	c->shared_blks_written = bu->shared_blks_written;
	c->local_blks_hit = bu->local_blks_hit;
	c->local_blks_read = bu->local_blks_read;
	c->local_blks_dirtied = bu->local_blks_dirtied;
	c->local_blks_written = bu->local_blks_written;
	c->temp_blks_read = bu->temp_blks_read;
	c->temp_blks_written = bu->temp_blks_written;
	c->blk_read_time = INSTR_TIME_GET_MILLISEC(PGSM_BLK_READ_TIME(bu));
	c->blk_write_time = INSTR_TIME_GET_MILLISEC(PGSM_BLK_WRITE_TIME(bu));
	c->temp_blk_read_time = INSTR_TIME_GET_MILLISEC(bu->temp_blk_read_time);
	c->temp_blk_write_time = INSTR_TIME_GET_MILLISEC(bu->temp_blk_write_time);
	c->wal_records = wu->wal_records;
	c->wal_fpi = wu->wal_fpi;
	c->wal_bytes = wu->wal_bytes;
}

static void
query_cpu_forget(void *arg)
{
	QueryCpu  **p = &running_queries;

	while (*p != NULL)
	{
		if (*p == (QueryCpu *) arg)
		{
			*p = (*p)->next;
			return;
		}
		p = &(*p)->next;
	}
}

/*
 * Note where the top-level statement is in the query string, for errors.
 */
static void
pgsm_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);

	if (exec_nested_level == 0 && plan_nested_level == 0)
	{
		stmt_source = pstate->p_sourcetext;
		stmt_location = query->stmt_location;
		stmt_len = query->stmt_len;
	}
}

static PlannedStmt *
pgsm_planner(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams)
{
	PlannedStmt *result;
	int			level = exec_nested_level + plan_nested_level;

	if (pgsm_track_planning && query_string != NULL &&
		parse->queryId != UINT64CONST(0) && pgsm_enabled(level))
	{
		instr_time	start;
		instr_time	duration;
		BufferUsage bufusage_start = pgBufferUsage;
		BufferUsage bufusage;
		WalUsage	walusage_start = pgWalUsage;
		WalUsage	walusage;
		PgsmCounters delta;
		PgsmKey		key;
		TextSource	src = {0};

		INSTR_TIME_SET_CURRENT(start);
		plan_nested_level++;
		PG_TRY();
		{
			if (prev_planner_hook)
				result = prev_planner_hook(parse, query_string, cursorOptions,
										   boundParams);
			else
				result = standard_planner(parse, query_string, cursorOptions,
										  boundParams);
		}
		PG_FINALLY();
		{
			plan_nested_level--;
		}
		PG_END_TRY();
		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);

		memset(&bufusage, 0, sizeof(bufusage));
		BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
		memset(&walusage, 0, sizeof(walusage));
		WalUsageAccumDiff(&walusage, &pgWalUsage, &walusage_start);

		MemSet(&delta, 0, sizeof(delta));
		set_usage(&delta, &bufusage, &walusage);
		delta.total_plan_time = INSTR_TIME_GET_MILLISEC(duration);

		src.source = query_string;
		src.location = parse->stmt_location;
		src.len = parse->stmt_len;
		src.nested = level > 0;
		src.rtable = parse->rtable;
		src.cmd_type = parse->commandType;
		make_key(&key, parse->queryId, 0, level);
		pgsm_store_record(&key, &delta, -1, true, build_texts, &src);
	}
	else
	{
		plan_nested_level++;
		PG_TRY();
		{
			if (prev_planner_hook)
				result = prev_planner_hook(parse, query_string, cursorOptions,
										   boundParams);
			else
				result = standard_planner(parse, query_string, cursorOptions,
										  boundParams);
		}
		PG_FINALLY();
		{
			plan_nested_level--;
		}
		PG_END_TRY();
	}
	return result;
}

static void
pgsm_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
		pgsm_enabled(exec_nested_level))
	{
		MemoryContext oldcxt;
		QueryCpu   *qc;

		oldcxt = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);
		if (queryDesc->totaltime == NULL)
			queryDesc->totaltime = InstrAlloc(1, INSTRUMENT_ALL, false);
		qc = palloc(sizeof(QueryCpu));
		MemoryContextSwitchTo(oldcxt);

		qc->queryDesc = queryDesc;
		getrusage(RUSAGE_SELF, &qc->start);
		qc->cb.func = query_cpu_forget;
		qc->cb.arg = qc;
		MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt,
										   &qc->cb);
		qc->next = running_queries;
		running_queries = qc;
	}
}

static void
pgsm_ExecutorRun(PGSM_EXECUTOR_RUN_ARGS)
{
	exec_nested_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(PGSM_EXECUTOR_RUN_CALL);
		else
			standard_ExecutorRun(PGSM_EXECUTOR_RUN_CALL);
	}
	PG_FINALLY();
	{
		exec_nested_level--;
	}
	PG_END_TRY();
}

static void
pgsm_ExecutorFinish(QueryDesc *queryDesc)
{
	exec_nested_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		exec_nested_level--;
	}
	PG_END_TRY();
}

/* The plan as EXPLAIN (COSTS OFF) prints it. */
static char *
plan_text(QueryDesc *queryDesc, int *len)
{
	ExplainState *es = NewExplainState();

	es->costs = false;
	es->format = EXPLAIN_FORMAT_TEXT;
	ExplainBeginOutput(es);
	ExplainPrintPlan(es, queryDesc);
	ExplainEndOutput(es);
	if (es->str->len > 0 && es->str->data[es->str->len - 1] == '\n')
		es->str->data[--es->str->len] = '\0';
	*len = es->str->len;
	return es->str->data;
}

static void
pgsm_ExecutorEnd(QueryDesc *queryDesc)
{
	uint64		queryId = queryDesc->plannedstmt->queryId;
	QueryCpu   *qc = NULL;

	for (QueryCpu *q = running_queries; q != NULL; q = q->next)
		if (q->queryDesc == queryDesc)
		{
			qc = q;
			break;
		}

	if (qc != NULL && queryId != UINT64CONST(0) && queryDesc->totaltime &&
		pgsm_enabled(exec_nested_level))
	{
		PgsmCounters delta;
		PgsmKey		key;
		TextSource	src = {0};
		struct rusage end;
		double		msec;
		uint64		planid = 0;

		getrusage(RUSAGE_SELF, &end);
		InstrEndLoop(queryDesc->totaltime);
		msec = queryDesc->totaltime->total * 1000.0;

		MemSet(&delta, 0, sizeof(delta));
		set_usage(&delta, &queryDesc->totaltime->bufusage,
				  &queryDesc->totaltime->walusage);
		delta.total_time = msec;
		delta.rows = queryDesc->estate->es_processed;
		delta.cpu_user_time = Max(0.0, timeval_ms(&end.ru_utime) -
								  timeval_ms(&qc->start.ru_utime));
		delta.cpu_sys_time = Max(0.0, timeval_ms(&end.ru_stime) -
								 timeval_ms(&qc->start.ru_stime));
		if (queryDesc->estate->es_jit)
		{
			JitInstrumentation *ji = &queryDesc->estate->es_jit->instr;

			delta.jit_functions = ji->created_functions;
			delta.jit_generation_time = INSTR_TIME_GET_MILLISEC(ji->generation_counter);
			delta.jit_inlining_count = !INSTR_TIME_IS_ZERO(ji->inlining_counter);
			delta.jit_inlining_time = INSTR_TIME_GET_MILLISEC(ji->inlining_counter);
			delta.jit_optimization_count = !INSTR_TIME_IS_ZERO(ji->optimization_counter);
			delta.jit_optimization_time = INSTR_TIME_GET_MILLISEC(ji->optimization_counter);
			delta.jit_emission_count = !INSTR_TIME_IS_ZERO(ji->emission_counter);
			delta.jit_emission_time = INSTR_TIME_GET_MILLISEC(ji->emission_counter);
		}

		if (pgsm_enable_query_plan && queryDesc->planstate != NULL)
		{
			src.plan = plan_text(queryDesc, &src.plan_len);
			planid = hash_bytes_extended((const unsigned char *) src.plan,
										 src.plan_len, 0);
		}

		src.source = queryDesc->sourceText;
		src.location = queryDesc->plannedstmt->stmt_location;
		src.len = queryDesc->plannedstmt->stmt_len;
		src.nested = exec_nested_level > 0;
		src.rtable = queryDesc->plannedstmt->rtable;
		src.cmd_type = queryDesc->operation;
		make_key(&key, queryId, planid, exec_nested_level);
		pgsm_store_record(&key, &delta, pgsm_histogram_cell(msec), false,
						  build_texts, &src);
	}

	if (exec_nested_level == 0)
		stmt_source = NULL;

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/*
 * Utility statements.  EXECUTE, PREPARE and DEALLOCATE are left to the
 * executor hooks, as pg_stat_statements does, so that a prepared statement
 * is counted once under its own query.
 */
static void
pgsm_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	uint64		queryId = pstmt->queryId;
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	int			level = exec_nested_level;
	bool		is_execute = IsA(parsetree, ExecuteStmt);
	bool		track = pgsm_track_utility && queryId != UINT64CONST(0) &&
		!is_execute && !IsA(parsetree, PrepareStmt) &&
		!IsA(parsetree, DeallocateStmt) && pgsm_enabled(level);
	instr_time	start;
	BufferUsage bufusage_start = pgBufferUsage;
	WalUsage	walusage_start = pgWalUsage;
	struct rusage ru_start;

	if (track)
	{
		getrusage(RUSAGE_SELF, &ru_start);
		INSTR_TIME_SET_CURRENT(start);
	}

	/*
	 * What a utility statement runs is nested in it, except for EXECUTE: the
	 * prepared statement it runs stands at EXECUTE's own level.
	 */
	if (!is_execute)
		exec_nested_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (!is_execute)
			exec_nested_level--;
	}
	PG_END_TRY();

	if (track)
	{
		instr_time	duration;
		BufferUsage bufusage;
		WalUsage	walusage;
		struct rusage ru_end;
		PgsmCounters delta;
		PgsmKey		key;
		TextSource	src = {0};

		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		getrusage(RUSAGE_SELF, &ru_end);

		memset(&bufusage, 0, sizeof(bufusage));
		BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
		memset(&walusage, 0, sizeof(walusage));
		WalUsageAccumDiff(&walusage, &pgWalUsage, &walusage_start);

		MemSet(&delta, 0, sizeof(delta));
		set_usage(&delta, &bufusage, &walusage);
		delta.total_time = INSTR_TIME_GET_MILLISEC(duration);
		delta.cpu_user_time = Max(0.0, timeval_ms(&ru_end.ru_utime) -
								  timeval_ms(&ru_start.ru_utime));
		delta.cpu_sys_time = Max(0.0, timeval_ms(&ru_end.ru_stime) -
								 timeval_ms(&ru_start.ru_stime));
		/* the rows of the commands that report them, as pg_stat_statements */
		if (qc != NULL &&
			(qc->commandTag == CMDTAG_COPY ||
			 qc->commandTag == CMDTAG_FETCH ||
			 qc->commandTag == CMDTAG_SELECT ||
			 qc->commandTag == CMDTAG_REFRESH_MATERIALIZED_VIEW))
			delta.rows = qc->nprocessed;

		src.source = queryString;
		src.location = location;
		src.len = len;
		src.nested = level > 0;
		src.cmd_type = CMD_UTILITY;
		make_key(&key, queryId, 0, level);
		pgsm_store_record(&key, &delta, pgsm_histogram_cell(delta.total_time),
						  false, build_texts, &src);
	}

	if (exec_nested_level == 0)
		stmt_source = NULL;
}

/*
 * Errors and warnings of client statements, attributed to the top-level
 * statement.  Nothing here may raise an error of its own: the text scanner
 * cannot, and the store is not entered when this backend already holds its
 * lock.
 */
static void
pgsm_emit_log_hook(ErrorData *edata)
{
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);

	if (in_error_hook || edata->elevel < WARNING || edata->elevel > ERROR ||
		MyProc == NULL || debug_query_string == NULL ||
		!pgsm_enabled(0) || pgsm_store_lock_held())
		return;

	in_error_hook = true;
	PG_TRY();
	{
		PgsmCounters delta;
		PgsmKey		key;
		TextSource	src = {0};
		uint64		queryid = pgstat_get_my_query_id();

		src.source = debug_query_string;
		src.location = -1;
		if (stmt_source == debug_query_string)
		{
			src.location = stmt_location;
			src.len = stmt_len;
		}
		src.message = edata->message ? edata->message : "";
		src.cmd_type = CMD_UNKNOWN;

		/* failed before parse analysis: identify it by its text */
		if (queryid == UINT64CONST(0))
		{
			int			len;
			const char *stmt = statement_text(src.source, src.location,
											  src.len, &len);
			char	   *norm = pgsm_scan_query(stmt, len, true, NULL);

			queryid = hash_bytes_extended((const unsigned char *) norm,
										  strlen(norm), 0);
		}

		MemSet(&delta, 0, sizeof(delta));
		make_key(&key, queryid, 0, 0);
		key.sqlcode = edata->sqlerrcode;
		key.elevel = (uint8) edata->elevel;
		pgsm_store_record(&key, &delta, -1, false, build_texts, &src);
	}
	PG_FINALLY();
	{
		in_error_hook = false;
	}
	PG_END_TRY();
}

/* Install the hooks; called from _PG_init when the library is preloaded. */
void
pgsm_hooks_install(void)
{
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = pgsm_post_parse_analyze;
	prev_planner_hook = planner_hook;
	planner_hook = pgsm_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = pgsm_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = pgsm_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = pgsm_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = pgsm_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgsm_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = pgsm_emit_log_hook;
}
