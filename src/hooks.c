/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		The collector: executor, planner, utility and error hooks.
 *
 * Each hook measures one statement and hands the figures to the store.
 * The hooks touch nothing but shared memory: no SPI, no table writes and no
 * catalog access that can fail.  The per-statement path is kept short: a
 * statement whose entry exists costs no allocation (each nesting level has
 * a fixed slot), a hash of the statement's part of its key (the session's
 * part is hashed when it changes), a shared lock and a spinlock, and its
 * figures are added straight into the entry.  Only when an entry is made
 * are its texts built (the query normalized, its comments and relations
 * collected, its plan printed), with no lock held.
 *
 * Every hook calls the hook it replaced.  Nesting is tracked as in
 * pg_stat_statements, so that pg_stat_monitor.pgsm_track = top records only
 * statements issued by the client, and all records nested ones too; the
 * executor's and the planner's levels without an error trap (see frames).
 * Parallel workers and pg_stat_monitor's own worker are never recorded.
 *
 * A planning waits in this backend's memory (pending_plannings) until the
 * execution of its plan ends, and both are then added to one row in one
 * visit to the store, as pg_stat_monitor does: a statement still running
 * has no row yet, and the planning of the reset function's own statement
 * is counted after the reset.  With pg_stat_monitor.pgsm_enable_query_plan
 * on, that row is the plan's, whose id is known only once the executor has
 * set the plan up.
 *
 * What a row records of the session is taken when its statement starts,
 * as in pg_stat_monitor: the application name and the user (SET ROLE, or a
 * statement that changes application_name, is filed under the old ones).  The names of the user and the database are stored
 * with each entry when it is made, so that history keeps them after a drop.
 *
 * Locking: none here; see store.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
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
#include "storage/ipc.h"
#include "storage/proc.h"
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

/*
 * Nesting of statements: what the executor, the planner or a utility
 * statement runs is nested one level down.
 *
 * A utility statement's level (utility_level) is taken back in an error
 * trap, as pg_stat_statements does: CALL and DO may end and start
 * transactions while they run.  The executor's and the planner's levels
 * (frame_level) set no trap, since they are added for nearly every
 * statement and a trap costs more than the rest of their hooks.  Those
 * calls never outlive their transaction (transaction control needs a
 * context that is not atomic, and a query or a planning is atomic), and
 * each notes, for the level it adds, the transaction and subtransaction it
 * started in (frames).  An error is caught for good only by rolling back a
 * subtransaction or the transaction, and every call that error interrupted
 * started in what was rolled back or in a subtransaction inside it, while
 * a call still under way started in a subtransaction that is still
 * active, of the same transaction.  So a level whose subtransaction is no
 * longer active, or whose transaction has ended, is of a call an error
 * interrupted, and is dropped.  Levels are added and dropped in stack
 * order, so only the innermost needs checking; that is done only while
 * frame_level is not 0 (inside a query or a planning, or after one failed).
 */
typedef struct LevelFrame
{
	LocalTransactionId lxid;
	SubTransactionId subxid;
} LevelFrame;

static int	utility_level = 0;
static int	frame_level = 0;
static LevelFrame *frames = NULL;	/* one per level of frame_level */
static int	frames_size = 0;

/*
 * Drop the levels of calls an error interrupted; see above.  The innermost
 * level is the one added last, so when it is of another transaction, all
 * are.
 */
static pg_noinline int
frame_level_check(void)
{
	if (frames[frame_level - 1].lxid != PGSM_MY_LXID)
		frame_level = 0;
	while (frame_level > 0 &&
		   !SubTransactionIsActive(frames[frame_level - 1].subxid))
		frame_level--;
	return frame_level;
}

static inline int
frame_level_valid(void)
{
	return likely(frame_level == 0) ? 0 : frame_level_check();
}

/* Room for "n" levels. */
static pg_noinline void
frames_grow(int n)
{
	int			size = Max(Max(n, 2 * frames_size), 16);

	if (frames == NULL)
		frames = MemoryContextAlloc(TopMemoryContext,
									size * sizeof(LevelFrame));
	else
		frames = repalloc(frames, size * sizeof(LevelFrame));
	frames_size = size;
}

/*
 * An executor or planner call adds a level, noted with where it started;
 * it gives back the level to return to when the call returns (an error
 * leaves that to frame_level_check()).
 */
static inline int
frame_push(void)
{
	int			level = frame_level_valid();

	if (unlikely(level >= frames_size))
		frames_grow(level + 1);
	frames[level].lxid = PGSM_MY_LXID;
	frames[level].subxid = GetCurrentSubTransactionId();
	frame_level = level + 1;
	return level;
}

/*
 * The nesting level of a statement: a statement run by the planner (an
 * immutable SQL function folded into a constant) is nested too, as in
 * pg_stat_statements and pg_stat_monitor.
 */
static inline int
nesting_level(void)
{
	return utility_level + frame_level_valid();
}

/*
 * The last top-level statement parse analysis saw, so that an error can be
 * attributed to its statement rather than to the whole query string.  A
 * string is told apart from an earlier one at the same address by the start
 * time of the client's message.  "done" once the statement has ended: an
 * error after that belongs to the implicit commit, or to a later statement
 * of the same string that failed before its parse analysis ended.
 */
typedef struct NotedStatement
{
	const char *source;			/* NULL: none */
	TimestampTz message_start;
	int			location;
	int			len;			/* 0: to the end of the string */
	uint64		queryid;
	bool		done;
} NotedStatement;

static NotedStatement noted_stmt;

/*
 * Parameters a nested statement has that its text does not show: PL/pgSQL
 * variables and SQL function arguments are $n to the parser, and
 * pg_stat_statements numbers the constants it replaces after them.  The
 * highest of a nested statement is noted at parse analysis (once per
 * parse, not per execution) in a small direct-mapped table, for when its
 * entry is made; a collision loses it, and numbering then follows the
 * text alone.
 */
typedef struct NestedParams
{
	uint64		queryid;
	int			highest;
} NestedParams;

#define PGSM_NESTED_PARAM_SLOTS	256

static NestedParams nested_params[PGSM_NESTED_PARAM_SLOTS];

/* Guards the error hook against recursion */
static bool in_error_hook = false;

/*
 * Memory of the error hook, emptied after each call.  Without it, what a
 * WARNING allocates would stay in ErrorContext until the next ERROR.
 */
static MemoryContext error_hook_cxt = NULL;

/*
 * The session's application name as a statement found it at its start, and
 * its hash.  A statement that changes it (SET application_name, or
 * set_config() in a query) is filed under the name it started with, as in
 * pg_stat_monitor.  application_name holds ASCII only.
 */
typedef struct AppName
{
	uint64		id;				/* hash of the name, 0 when it is empty */
	char		name[NAMEDATALEN];
} AppName;

/*
 * The name last seen, hashed again only when it changes: a statement costs
 * a comparison of two strings.  A name longer than NAMEDATALEN - 1 bytes,
 * which the copy cuts short, never compares equal, and is hashed again for
 * every statement (to the same id).
 */
static const AppName *
app_name_current(void)
{
	static AppName current;
	const char *name = application_name != NULL ? application_name : "";

	if (strcmp(current.name, name) != 0)
	{
		strlcpy(current.name, name, NAMEDATALEN);
		current.id = current.name[0] == '\0' ? 0 :
			hash_bytes_extended((const unsigned char *) current.name,
								strlen(current.name), 0);
	}
	return &current;
}

/*
 * A backend's CPU time so far, user and system, in microseconds as the
 * kernel gives them: only a statement's difference is turned into msec.
 */
typedef struct CpuTimes
{
	int64		user;
	int64		sys;
} CpuTimes;

/*
 * The statements being executed: CPU time at start, and the plan's id.
 * Each nesting level has a slot of its own (query_slots), so that a
 * statement costs no allocation; a statement that finds its level's slot
 * taken (a cursor still open at that level, say) gets one from its
 * executor memory.  Either way the executor memory's reset callback frees
 * it and unlinks it, so an error leaves nothing behind.
 */
typedef struct QueryCpu
{
	QueryDesc  *queryDesc;		/* NULL: a free slot */
	Instrumentation totaltime;	/* queryDesc->totaltime, unless another
								 * module set it up first */
	CpuTimes	start;
	uint64		planid;			/* 0 unless plans are recorded */
	AppName		app;			/* application name at start */
	Oid			userid;			/* user at start */
	int			level;			/* nesting level */
	int			planning;		/* pending planning's slot + 1, or 0 */
	MemoryContextCallback cb;
	struct QueryCpu *next;
} QueryCpu;

static QueryCpu *running_queries = NULL;

#define PGSM_QUERY_SLOTS	8

static QueryCpu query_slots[PGSM_QUERY_SLOTS];

/*
 * getrusage() is a system call, and a costly one on some machines.  A
 * top-level statement takes its starting figure from the backend's last
 * reading instead of reading it again: the CPU spent in between went to
 * receiving, parsing and planning this statement, which belongs to it
 * anyway.  At its end, it reads the figure only if pgsm_cpu_time_interval
 * has passed since that reading; otherwise it is charged nothing, and what
 * it used goes to the next top-level statement that reads (the kernel moves
 * the figure on at its clock ticks, so a reading sooner mostly finds it
 * unchanged).  The readings of top-level statements thus form one chain,
 * whose differences add up to the backend's CPU time.  The first statement
 * of a backend and the one after an error read the figure at both ends, and
 * start the chain again; nested statements read it at both ends, outside
 * the chain.
 */
static CpuTimes last_cpu;
static int64 next_cpu_ns;		/* instr_time of the next reading, in ns */
static bool last_cpu_valid = false;

/*
 * A backend is one thread, so the thread's figures are the process's; on
 * Linux asking for the thread's is cheaper (it need not add up the figures
 * of every thread of the process) and leaves out any thread a library may
 * have started.
 */
#ifdef RUSAGE_THREAD
#define PGSM_RUSAGE_WHO RUSAGE_THREAD
#else
#define PGSM_RUSAGE_WHO RUSAGE_SELF
#endif

static inline int64
timeval_us(const struct timeval *tv)
{
	return (int64) tv->tv_sec * 1000000 + tv->tv_usec;
}

/* The CPU time between two readings, in msec */
static inline double
cpu_ms(int64 from, int64 to)
{
	return to > from ? (to - from) / 1000.0 : 0.0;
}

static inline void
cpu_read(CpuTimes *t)
{
	struct rusage ru;

	getrusage(PGSM_RUSAGE_WHO, &ru);
	t->user = timeval_us(&ru.ru_utime);
	t->sys = timeval_us(&ru.ru_stime);
}

static inline void
cpu_start(CpuTimes *t, int level)
{
	if (level == 0 && last_cpu_valid)
		*t = last_cpu;
	else
		cpu_read(t);
}

/*
 * The figure at the end of a statement that started with *start, at now_ns
 * (an instr_time in ns): read, or for a top-level statement close to the
 * last reading, *start itself.
 */
static inline void
cpu_end(CpuTimes *t, const CpuTimes *start, int level, int64 now_ns)
{
	if (level == 0)
	{
		if (last_cpu_valid && now_ns < next_cpu_ns)
		{
			*t = *start;
			return;
		}
		cpu_read(t);
		last_cpu = *t;
		next_cpu_ns = now_ns + (int64) (pgsm_cpu_time_interval * 1000000.0);
		last_cpu_valid = true;
	}
	else
		cpu_read(t);
}

/*
 * The names of this backend's database and of the last user a statement ran
 * as, for the error hook, which must not look them up (see entry_names).
 */
static char db_name[NAMEDATALEN];
static Oid	cached_user = InvalidOid;
static char cached_user_name[NAMEDATALEN];

/*
 * Look the names up, where the catalog may be read: inside a transaction,
 * outside the error hook.  A database cannot be renamed while anyone is
 * connected to it, so its name is read once per backend.
 */
static void
names_refresh(Oid userid)
{
	char	   *name;

	if (!IsTransactionState())
		return;
	if (db_name[0] == '\0' && (name = get_database_name(MyDatabaseId)) != NULL)
	{
		strlcpy(db_name, name, NAMEDATALEN);
		pfree(name);
	}
	if ((name = GetUserNameFromId(userid, true)) != NULL)
	{
		strlcpy(cached_user_name, name, NAMEDATALEN);
		cached_user = userid;
		pfree(name);
	}
}

/* Most tables named in an entry's relations */
#define PGSM_MAX_RELIDS		64

/* Everything a new entry's texts are built from */
typedef struct TextSource
{
	const char *source;			/* the query string */
	int			location;		/* this statement in it, or -1 */
	int			len;
	bool		bounded;		/* read no more than pgsm_query_max_len */
	bool		nested;			/* also keep the top-level statement */
	QueryDesc  *plan;			/* the plan to print, or NULL */
	const char *message;		/* error message, or NULL */
	int			sqlerrcode;		/* of the message */
	const char *appname;		/* application name at statement start */
	List	   *rtable;			/* relations, or NIL ... */
	const Oid  *relids;			/* ... or their OIDs, nrelids of them */
	int			nrelids;
	CmdType		cmd_type;
} TextSource;

/*
 * A planning waiting for its execution (see the file header).  It is
 * recorded with the execution, in one row and one visit to the store, when
 * the execution ends.  A planning whose plan is not executed (EXPLAIN, an
 * error before the executor started) is recorded alone once the statement
 * around it ends, or when its slot is needed; one whose execution failed,
 * once the top-level statement ends.  The statement's text and relations
 * are copied into the slot when it is filled, since the query string may be
 * gone by then; the slots' text buffers are allocated once per backend.
 */
typedef struct PendingPlanning
{
	bool		used;
	struct QueryCpu *claimed;	/* the execution that records it, or NULL */
	uint64		seq;			/* order of arrival */
	int			level;
	PgsmKey		key;
	PgsmCounters delta;
	CmdType		cmd_type;
	int			text_len;		/* of the statement, in pending_texts */
	int			nrelids;
	Oid			relids[PGSM_MAX_RELIDS];
	char		appname[NAMEDATALEN];
} PendingPlanning;

#define PGSM_PENDING_PLANNINGS	8

static PendingPlanning pending_plannings[PGSM_PENDING_PLANNINGS];
static int	npending_plannings = 0;		/* slots in use */
static uint64 pending_seq = 0;
static char *pending_texts = NULL;	/* pgsm_query_max_len + 1 bytes a slot */

#define PendingText(i)	(pending_texts + (Size) (i) * (pgsm_query_max_len + 1))

/*
 * Is this statement to be recorded?  Cheap checks first: this runs for
 * every statement of every backend.
 */
static bool store_ready = false;

static inline bool
pgsm_enabled(int level)
{
	if (pgsm_track == PGSM_TRACK_NONE || pgsm_in_worker)
		return false;
	if (level > 0 && pgsm_track != PGSM_TRACK_ALL)
		return false;
	/* once attached, a backend's store stays */
	if (unlikely(!store_ready))
		store_ready = pgsm_store_ready();
	return store_ready && !IsParallelWorker();
}

/*
 * The key of a statement: everything but the query id is about the
 * session, and the client address is read once per backend.
 */
static inline void
make_key(PgsmKey *key, uint64 queryid, uint64 planid, int level,
		 const AppName *app, Oid userid)
{
	static bool addr_known = false;
	static uint8 addr_family = 0;
	static uint8 addr[16];

	/* memset, not MemSet: the compiler writes a known size in a few stores */
	memset(key, 0, sizeof(PgsmKey));

	/*
	 * A client over a Unix socket, and a process with no client (a
	 * background worker that runs statements), is 127.0.0.1, as in
	 * pg_stat_monitor.
	 */
	if (!addr_known)
	{
		const struct sockaddr *sa = MyProcPort != NULL ?
			(const struct sockaddr *) &MyProcPort->raddr.addr : NULL;

		if (sa != NULL && sa->sa_family == AF_INET)
		{
			addr_family = 4;
			memcpy(addr, &((const struct sockaddr_in *) sa)->sin_addr, 4);
		}
		else if (sa != NULL && sa->sa_family == AF_INET6)
		{
			addr_family = 6;
			memcpy(addr, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
		}
		else
		{
			addr_family = 4;
			addr[0] = 127;
			addr[3] = 1;
		}
		addr_known = true;
	}

	/* the statement's start, which PostgreSQL has read from the clock */
	key->bucket = pgsm_statement_bucket(GetCurrentStatementStartTimestamp());
	key->queryid = (int64) queryid;
	key->planid = (int64) planid;
	key->userid = userid;
	key->dbid = MyDatabaseId;
	key->toplevel = (level == 0);
	if (level > 0)
		key->top_queryid = (int64) pgstat_get_my_query_id();
	key->addr_family = addr_family;
	memcpy(key->addr, addr, sizeof(addr));
	key->appid = app->id;
}

/*
 * The statement's own text: its part of the string, without the blanks and
 * semicolons around it.  "location" and "len" are the parser's (location
 * -1: the whole string; len 0: to its end), trusted as the core trusts
 * them.  With "bounded", no more than pgsm_query_max_len bytes from the
 * statement's start are read, cut at a character boundary: the error hook
 * must not scan, let alone copy, a huge string.
 */
static const char *
statement_text(const char *source, int location, int len, bool bounded,
			   int *out_len)
{
	int			srclen;

	if (location > 0)
		source += location;
	if (bounded && (len <= 0 || len > pgsm_query_max_len))
	{
		srclen = strnlen(source, pgsm_query_max_len);
		if (srclen == pgsm_query_max_len)
			srclen = pg_mbcliplen(source, srclen, pgsm_query_max_len);
	}
	else if (len > 0)
		srclen = strnlen(source, len);
	else
		srclen = strlen(source);

	while (srclen > 0 && scanner_isspace(*source))
	{
		source++;
		srclen--;
	}
	while (srclen > 0 && (scanner_isspace(source[srclen - 1]) ||
						  source[srclen - 1] == ';'))
		srclen--;
	*out_len = srclen;
	return source;
}

/* Is the noted statement part of the query string being run? */
static bool
noted_stmt_current(void)
{
	return noted_stmt.source != NULL &&
		noted_stmt.source == debug_query_string &&
		noted_stmt.message_start == GetCurrentStatementStartTimestamp();
}

/* Cut a text at a character boundary so that it fits "max" bytes. */
static int
clip(const char *s, int len, int max)
{
	if (len <= max)
		return len;
	return pg_mbcliplen(s, len, max);
}

/*
 * The OIDs of the tables and views a statement names, each once, in the
 * order of its range table.  A view appears in the range table of its
 * expansion more than once.
 */
static int
collect_relids(List *rtable, Oid *relids, int max)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		bool		seen = false;

		/* since PostgreSQL 16 a view's entry is a subquery that keeps its OID */
		if (rte->rtekind != RTE_RELATION &&
			!(rte->rtekind == RTE_SUBQUERY && OidIsValid(rte->relid)))
			continue;
		for (int i = 0; i < n && !seen; i++)
			seen = relids[i] == rte->relid;
		if (!seen && n < max)
			relids[n++] = rte->relid;
	}
	return n;
}

/*
 * "schema.name" of each table, as pg_stat_monitor shows them: a view is
 * marked with a trailing '*'.  The names are looked up only inside a
 * transaction; outside one (a pending planning recorded after COMMIT) the
 * list stays empty.
 */
static char *
relation_list(const Oid *relids, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (!IsTransactionState())
		return buf.data;
	for (int i = 0; i < n; i++)
	{
		char	   *relname = get_rel_name(relids[i]);
		char	   *nspname = get_namespace_name(get_rel_namespace(relids[i]));
		bool		view = get_rel_relkind(relids[i]) == RELKIND_VIEW;

		if (relname == NULL || nspname == NULL)
			continue;
		if (buf.len + strlen(relname) + strlen(nspname) + 3 >
			PGSM_RELATIONS_MAX_LEN)
			break;
		if (buf.len > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfo(&buf, "%s.%s%s", nspname, relname, view ? "*" : "");
	}
	return buf.data;
}

/*
 * The id of a plan: a hash of its shape, that is of its nodes' types, the
 * tables and indexes they read, and how they join, aggregate and modify,
 * taken from the plan tree.  Constants and expressions are left out (the
 * query id covers those), so that a statement run with other values keeps
 * its plan id as long as its plan keeps its shape.
 */
static inline uint64
plan_mix(uint64 h, uint64 v)
{
	h ^= v;
	h *= UINT64CONST(0x9e3779b97f4a7c15);
	return h ^ (h >> 31);
}

static uint64 plan_hash(const Plan *plan, const PlannedStmt *pstmt,
						uint64 h);

static uint64
plan_hash_list(const List *plans, const PlannedStmt *pstmt, uint64 h)
{
	ListCell   *lc;

	h = plan_mix(h, list_length(plans));
	foreach(lc, plans)
		h = plan_hash((const Plan *) lfirst(lc), pstmt, h);
	return h;
}

/* The relation a scan reads, or InvalidOid. */
static Oid
scan_relation(const Plan *plan, const PlannedStmt *pstmt)
{
	Index		rti = ((const Scan *) plan)->scanrelid;
	RangeTblEntry *rte;

	if (rti == 0 || rti > list_length(pstmt->rtable))
		return InvalidOid;
	rte = rt_fetch(rti, pstmt->rtable);
	return rte->rtekind == RTE_RELATION ? rte->relid : InvalidOid;
}

static uint64
plan_hash(const Plan *plan, const PlannedStmt *pstmt, uint64 h)
{
	if (plan == NULL)
		return plan_mix(h, 0);

	check_stack_depth();
	h = plan_mix(h, (uint64) nodeTag(plan));
	switch (nodeTag(plan))
	{
		case T_IndexScan:
			h = plan_mix(h, ((const IndexScan *) plan)->indexid);
			h = plan_mix(h, scan_relation(plan, pstmt));
			break;
		case T_IndexOnlyScan:
			h = plan_mix(h, ((const IndexOnlyScan *) plan)->indexid);
			h = plan_mix(h, scan_relation(plan, pstmt));
			break;
		case T_BitmapIndexScan:
			h = plan_mix(h, ((const BitmapIndexScan *) plan)->indexid);
			break;
		case T_SeqScan:
		case T_SampleScan:
		case T_BitmapHeapScan:
		case T_TidScan:
		case T_TidRangeScan:
		case T_ForeignScan:
			h = plan_mix(h, scan_relation(plan, pstmt));
			break;
		case T_SubqueryScan:
			h = plan_hash(((const SubqueryScan *) plan)->subplan, pstmt, h);
			break;
		case T_NestLoop:
		case T_MergeJoin:
		case T_HashJoin:
			h = plan_mix(h, ((const Join *) plan)->jointype);
			break;
		case T_Agg:
			h = plan_mix(h, ((const Agg *) plan)->aggstrategy);
			break;
		case T_SetOp:
			h = plan_mix(h, ((const SetOp *) plan)->strategy);
			h = plan_mix(h, ((const SetOp *) plan)->cmd);
			break;
		case T_ModifyTable:
			h = plan_mix(h, ((const ModifyTable *) plan)->operation);
			break;
		case T_Append:
			h = plan_hash_list(((const Append *) plan)->appendplans, pstmt, h);
			break;
		case T_MergeAppend:
			h = plan_hash_list(((const MergeAppend *) plan)->mergeplans, pstmt, h);
			break;
		case T_BitmapAnd:
			h = plan_hash_list(((const BitmapAnd *) plan)->bitmapplans, pstmt, h);
			break;
		case T_BitmapOr:
			h = plan_hash_list(((const BitmapOr *) plan)->bitmapplans, pstmt, h);
			break;
		case T_CustomScan:
			h = plan_hash_list(((const CustomScan *) plan)->custom_plans, pstmt, h);
			break;
		default:
			break;
	}
	h = plan_hash(plan->lefttree, pstmt, h);
	return plan_hash(plan->righttree, pstmt, h);
}

/* The plan id of a statement: its plan and the subplans it holds. */
static uint64
plan_id(const PlannedStmt *pstmt)
{
	uint64		h = plan_hash(pstmt->planTree, pstmt, 0);

	h = plan_hash_list(pstmt->subplans, pstmt, h);
	/* 0 means "none" */
	return h != 0 ? h : 1;
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

/*
 * Build a new entry's texts.  Runs only when an entry is made, with no lock
 * held (the store's PgsmBuildTexts).
 */
static void
build_texts(void *arg, const PgsmKey *key, PgsmTexts *texts,
			int64 *pgsm_query_id, uint8 *cmd_type)
{
	TextSource *src = (TextSource *) arg;
	const char *stmt;
	int			len;
	char	   *query;
	StringInfoData comments;
	bool		secret;
	int			min_param = 0;

	initStringInfo(&comments);
	if (pgsm_extract_comments && src->location > 0)
		pgsm_leading_comments(src->source, src->location, &comments);
	stmt = statement_text(src->source, src->location, src->len, src->bounded,
						  &len);
	if (src->nested)
	{
		NestedParams *np = &nested_params[(uint64) key->queryid %
										  PGSM_NESTED_PARAM_SLOTS];

		if (np->queryid == (uint64) key->queryid)
			min_param = np->highest;
	}
	query = pgsm_scan_query(stmt, len, pgsm_query_max_len,
							pgsm_normalized_query, min_param,
							pgsm_extract_comments ? &comments : NULL,
							&secret);

	/*
	 * pgsm_query_id is that of the normalized text, whatever
	 * pgsm_normalized_query says, as in pg_stat_monitor
	 */
	if (pgsm_enable_pgsm_query_id)
		*pgsm_query_id = pgsm_text_id(pgsm_normalized_query ? query :
									  pgsm_scan_query(stmt, len,
													  pgsm_query_max_len,
													  true, min_param,
													  NULL, NULL));
	len = strlen(query);
	texts->str[PGSM_TEXT_QUERY] = query;
	texts->len[PGSM_TEXT_QUERY] = len;

	if (src->nested && debug_query_string != NULL)
	{
		const char *top;
		int			toplen;
		char	   *topq;

		if (noted_stmt_current())
			top = statement_text(debug_query_string, noted_stmt.location,
								 noted_stmt.len, false, &toplen);
		else
			top = statement_text(debug_query_string, -1, 0, false, &toplen);
		topq = pgsm_scan_query(top, toplen, pgsm_query_max_len,
							   pgsm_normalized_query, 0, NULL, NULL);
		texts->str[PGSM_TEXT_TOP_QUERY] = topq;
		texts->len[PGSM_TEXT_TOP_QUERY] = strlen(topq);
	}

	if (src->plan != NULL)
	{
		int			plan_len;
		char	   *plan = plan_text(src->plan, &plan_len);

		texts->str[PGSM_TEXT_PLAN] = plan;
		texts->len[PGSM_TEXT_PLAN] = clip(plan, plan_len,
										  pgsm_query_max_len);
	}

	/*
	 * A message may quote a huge value: only its start is read.  A token of
	 * the statement it quotes is masked as the statement's text masks it,
	 * and so are the values quoted by data and constraint errors.
	 */
	if (src->message != NULL)
	{
		const char *msg = src->message;
		int			msglen = strnlen(msg, PGSM_MESSAGE_SCAN_LEN);
		int			category = ERRCODE_TO_CATEGORY(src->sqlerrcode);
		bool		complete;
		char	   *near;

		if (msglen == PGSM_MESSAGE_SCAN_LEN)
			msglen = pg_mbcliplen(msg, msglen, PGSM_MESSAGE_SCAN_LEN);
		complete = msg[msglen] == '\0';
		near = pgsm_mask_near_token(msg, msglen, complete, secret);
		if (near != NULL)
		{
			msg = near;
			msglen = strlen(msg);
		}
		if (pgsm_mask_error_values &&
			(category == ERRCODE_DATA_EXCEPTION ||
			 category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION))
		{
			msg = pgsm_mask_message(msg, msglen, complete);
			msglen = strlen(msg);
		}
		texts->str[PGSM_TEXT_MESSAGE] = msg;
		texts->len[PGSM_TEXT_MESSAGE] = clip(msg, msglen,
											 PGSM_MESSAGE_MAX_LEN);
	}

	if (comments.len > 0)
	{
		texts->str[PGSM_TEXT_COMMENTS] = comments.data;
		texts->len[PGSM_TEXT_COMMENTS] = clip(comments.data, comments.len,
											  PGSM_COMMENTS_MAX_LEN);
	}

	if (src->rtable != NIL || src->nrelids > 0)
	{
		Oid			relids[PGSM_MAX_RELIDS];
		int			n = src->nrelids;
		char	   *rels;

		if (src->rtable != NIL)
			n = collect_relids(src->rtable, relids, PGSM_MAX_RELIDS);
		else
			memcpy(relids, src->relids, n * sizeof(Oid));
		rels = relation_list(relids, n);
		texts->str[PGSM_TEXT_RELATIONS] = rels;
		texts->len[PGSM_TEXT_RELATIONS] = strlen(rels);
	}

	if (src->appname != NULL)
	{
		texts->str[PGSM_TEXT_APPNAME] = src->appname;
		texts->len[PGSM_TEXT_APPNAME] = strnlen(src->appname,
												NAMEDATALEN - 1);
	}

	/*
	 * The names of the database and the user, kept with the entry so that
	 * its history shows them after either is dropped.  The error hook must
	 * not read the catalog (it may run with buffers locked), so it takes
	 * what was read before; what is not known stays empty, and is looked up
	 * when the entry is read.
	 */
	if (src->message == NULL)
		names_refresh(key->userid);
	if (db_name[0] != '\0')
	{
		texts->str[PGSM_TEXT_DATNAME] = db_name;
		texts->len[PGSM_TEXT_DATNAME] = strlen(db_name);
	}
	if (cached_user == key->userid)
	{
		texts->str[PGSM_TEXT_USERNAME] = cached_user_name;
		texts->len[PGSM_TEXT_USERNAME] = strlen(cached_user_name);
	}

	*cmd_type = (uint8) src->cmd_type;
}

/*
 * The query id of a utility statement.  A hook that ran before this one
 * may have cleared it: pg_stat_statements does, when it is loaded after
 * pg_stat_monitor.  The core's id can be worked out again (compat.h says
 * how on each version).  Subcommands have none of their
 * own: they belong to the command that issued them.  (Not inlined: its
 * caller uses PG_TRY.)
 */
static pg_noinline uint64
utility_query_id(PlannedStmt *pstmt, const char *query_string,
				 ProcessUtilityContext context)
{
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	const char *sql;

	if (pstmt->queryId != UINT64CONST(0) || query_string == NULL ||
		context == PROCESS_UTILITY_SUBCOMMAND || !IsQueryIdEnabled())
		return pstmt->queryId;

	sql = CleanQuerytext(query_string, &location, &len);
	return pgsm_utility_jumble(pstmt, sql, len);
}

/*
 * Record pending planning i alone, and free its slot.  The slot is freed
 * first, so that an error cannot record it twice; its text stays in place
 * until the next planning fills the slot again.
 */
static void
pending_record(int i)
{
	PendingPlanning *p = &pending_plannings[i];
	TextSource	src = {0};
	PgsmSample	sample = {0};

	p->used = false;
	npending_plannings--;
	src.source = PendingText(i);
	src.location = -1;
	src.len = p->text_len;
	src.nested = p->level > 0;
	src.relids = p->relids;
	src.nrelids = p->nrelids;
	src.cmd_type = p->cmd_type;
	src.appname = p->appname;
	sample.planning = &p->delta;
	pgsm_store_record(&p->key, &sample, -1, PGSM_RECORD_PLAN, build_texts,
					  &src);
}

/*
 * A statement at nesting level "level" ends: record, oldest first, the
 * plannings no execution waits for that were made inside it (at a deeper
 * level), and at the top level all of them.  Costs nothing when no planning
 * waits.
 */
static void
pending_flush(int level)
{
	while (npending_plannings > 0)
	{
		int			oldest = -1;

		for (int i = 0; i < PGSM_PENDING_PLANNINGS; i++)
		{
			PendingPlanning *p = &pending_plannings[i];

			if (p->used && p->claimed == NULL &&
				(p->level > level || level == 0) &&
				(oldest < 0 || p->seq < pending_plannings[oldest].seq))
				oldest = i;
		}
		if (oldest < 0)
			return;
		pending_record(oldest);
	}
}

/*
 * The backend exits: record the plannings that still wait (of a statement
 * that failed last, say), unless it exits because something went wrong.
 */
static void
pending_at_exit(int code, Datum arg)
{
	if (code == 0 && npending_plannings > 0 && pgsm_store_ready() &&
		!pgsm_store_lock_held())
		pending_flush(0);
}

/*
 * Keep a planning until its execution ends, with a copy of what its texts
 * are made from.  When every slot is taken, the oldest planning no
 * execution waits for is recorded now to make room; when executions wait
 * for all of them, this one is recorded at once.
 */
static void
pending_add(const PgsmKey *key, const PgsmCounters *delta,
			const char *query_string, Query *parse, int level,
			const AppName *app)
{
	PendingPlanning *p;
	const char *stmt;
	int			stmt_len;
	int			slot = -1;

	if (pending_texts == NULL)
	{
		pending_texts = MemoryContextAlloc(TopMemoryContext,
										   (Size) PGSM_PENDING_PLANNINGS *
										   (pgsm_query_max_len + 1));
		before_shmem_exit(pending_at_exit, (Datum) 0);
	}

	for (int round = 0; round < 2 && slot < 0; round++)
	{
		int			oldest = -1;

		for (int i = 0; i < PGSM_PENDING_PLANNINGS && slot < 0; i++)
		{
			if (!pending_plannings[i].used)
				slot = i;
			else if (pending_plannings[i].claimed == NULL &&
					 (oldest < 0 ||
					  pending_plannings[i].seq < pending_plannings[oldest].seq))
				oldest = i;
		}
		if (slot < 0 && oldest >= 0)
			pending_record(oldest);
		else if (slot < 0)
			break;
	}
	if (slot < 0)
	{
		TextSource	src = {0};
		PgsmSample	sample = {0};

		src.source = query_string;
		src.location = parse->stmt_location;
		src.len = parse->stmt_len;
		src.nested = level > 0;
		src.rtable = parse->rtable;
		src.cmd_type = parse->commandType;
		src.appname = app->name;
		sample.planning = delta;
		pgsm_store_record(key, &sample, -1, PGSM_RECORD_PLAN, build_texts,
						  &src);
		return;
	}

	/* the planning's own entry keeps no more of the text than this */
	stmt = statement_text(query_string, parse->stmt_location,
						  parse->stmt_len, true, &stmt_len);
	p = &pending_plannings[slot];
	memcpy(PendingText(slot), stmt, stmt_len);
	PendingText(slot)[stmt_len] = '\0';
	p->text_len = stmt_len;
	p->nrelids = collect_relids(parse->rtable, p->relids, PGSM_MAX_RELIDS);
	p->used = true;
	p->claimed = NULL;
	p->seq = ++pending_seq;
	p->level = level;
	p->key = *key;
	p->delta = *delta;
	p->cmd_type = parse->commandType;
	strlcpy(p->appname, app->name, NAMEDATALEN);
	npending_plannings++;
}

/*
 * The executor has set up a plan: the most recent planning of the same
 * statement at the same level, if one waits, is the one that made it.  It
 * now waits for this execution, under the plan's id.  Returns its slot + 1,
 * or 0.
 */
static int
pending_claim(uint64 queryId, int level, uint64 planid, QueryCpu *qc)
{
	int			found = -1;

	for (int i = 0; i < PGSM_PENDING_PLANNINGS; i++)
	{
		PendingPlanning *p = &pending_plannings[i];

		if (p->used && p->claimed == NULL && p->level == level &&
			p->key.queryid == (int64) queryId &&
			(found < 0 || p->seq > pending_plannings[found].seq))
			found = i;
	}
	if (found < 0)
		return 0;
	pending_plannings[found].claimed = qc;
	pending_plannings[found].key.planid = (int64) planid;
	return found + 1;
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
	c->local_blk_read_time = PGSM_LOCAL_BLK_READ_TIME(bu);
	c->local_blk_write_time = PGSM_LOCAL_BLK_WRITE_TIME(bu);
	c->temp_blk_read_time = INSTR_TIME_GET_MILLISEC(bu->temp_blk_read_time);
	c->temp_blk_write_time = INSTR_TIME_GET_MILLISEC(bu->temp_blk_write_time);
	c->wal_records = wu->wal_records;
	c->wal_fpi = wu->wal_fpi;
	c->wal_bytes = wu->wal_bytes;
	c->wal_buffers_full = PGSM_WAL_BUFFERS_FULL(wu);
}

static void
query_cpu_forget(void *arg)
{
	QueryCpu  **p = &running_queries;
	QueryCpu   *qc = (QueryCpu *) arg;

	/* an execution that failed leaves its planning to be recorded alone */
	if (qc->planning > 0 &&
		pending_plannings[qc->planning - 1].claimed == qc)
		pending_plannings[qc->planning - 1].claimed = NULL;
	qc->planning = 0;

	while (*p != NULL)
	{
		if (*p == qc)
		{
			*p = qc->next;
			break;
		}
		p = &(*p)->next;
	}
	/* a slot is free again; palloc'd memory goes with its context */
	qc->queryDesc = NULL;
}

/*
 * Note where the top-level statement is in the query string, for errors.
 */
static void
pgsm_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);

	if (nesting_level() == 0)
	{
		noted_stmt.source = pstate->p_sourcetext;
		noted_stmt.message_start = GetCurrentStatementStartTimestamp();
		noted_stmt.location = query->stmt_location;
		noted_stmt.len = query->stmt_len;
		noted_stmt.queryid = query->queryId;
		noted_stmt.done = false;
		/* an error thrown out of the error hook left it marked busy */
		in_error_hook = false;

		/* the names the error hook will need, when they are new */
		if (unlikely(GetUserId() != cached_user) && pgsm_enabled(0))
			names_refresh(GetUserId());
	}
	else if (jstate != NULL && jstate->highest_extern_param_id > 0 &&
			 pgsm_track == PGSM_TRACK_ALL)
	{
		NestedParams *np = &nested_params[query->queryId %
										  PGSM_NESTED_PARAM_SLOTS];

		np->queryid = query->queryId;
		np->highest = jstate->highest_extern_param_id;
	}
}

/*
 * Plan a statement one nesting level down: a statement the planner runs (an
 * immutable function folded into a constant) is nested.
 */
static PlannedStmt *
plan_nested(Query *parse, const char *query_string, int cursorOptions,
			ParamListInfo boundParams)
{
	PlannedStmt *result;
	int			level = frame_push();

	if (prev_planner_hook)
		result = prev_planner_hook(parse, query_string, cursorOptions,
								   boundParams);
	else
		result = standard_planner(parse, query_string, cursorOptions,
								  boundParams);
	frame_level = level;
	return result;
}

/*
 * A planning that is recorded (pgsm_track_planning): its time, blocks and
 * WAL wait for its execution (pending_add).  Apart from pgsm_planner, so
 * that a planning not recorded sets up nothing for it.
 */
static pg_noinline PlannedStmt *
plan_tracked(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams, int level)
{
	PlannedStmt *result;
	instr_time	start;
	instr_time	duration;
	BufferUsage bufusage_start = pgBufferUsage;
	WalUsage	walusage_start = pgWalUsage;
	BufferUsage bufusage;
	WalUsage	walusage;
	PgsmCounters delta;
	PgsmKey		key;
	const AppName *app;

	INSTR_TIME_SET_CURRENT(start);
	result = plan_nested(parse, query_string, cursorOptions, boundParams);
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);

	memset(&bufusage, 0, sizeof(bufusage));
	BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
	memset(&walusage, 0, sizeof(walusage));
	WalUsageAccumDiff(&walusage, &pgWalUsage, &walusage_start);

	MemSet(&delta, 0, sizeof(delta));
	set_usage(&delta, &bufusage, &walusage);
	delta.total_plan_time = INSTR_TIME_GET_MILLISEC(duration);

	app = app_name_current();
	make_key(&key, parse->queryId, 0, level, app, GetUserId());
	pending_add(&key, &delta, query_string, parse, level, app);
	return result;
}

static PlannedStmt *
pgsm_planner(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams)
{
	int			level = nesting_level();

	if (pgsm_track_planning && query_string != NULL &&
		parse->queryId != UINT64CONST(0) && pgsm_enabled(level))
		return plan_tracked(parse, query_string, cursorOptions, boundParams,
							level);
	return plan_nested(parse, query_string, cursorOptions, boundParams);
}

/* What the texts of an executed statement's entry are made from. */
static void
executor_text_source(QueryDesc *queryDesc, QueryCpu *qc, TextSource *src)
{
	memset(src, 0, sizeof(TextSource));
	src->source = queryDesc->sourceText;
	src->location = queryDesc->plannedstmt->stmt_location;
	src->len = queryDesc->plannedstmt->stmt_len;
	src->nested = qc->level > 0;
	src->rtable = queryDesc->plannedstmt->rtable;
	src->cmd_type = queryDesc->operation;
	if (qc->planid != 0)
		src->plan = queryDesc;
	src->appname = qc->app.name;
}

/*
 * Note the CPU time and the application name at start, when plans are
 * recorded the plan's text and id, and the planning that made the plan if
 * it waits to be recorded with the execution.
 */
static void
pgsm_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	int			level = nesting_level();

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
		pgsm_enabled(level))
	{
		MemoryContext oldcxt;
		QueryCpu   *qc;

		oldcxt = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);
		if (level < PGSM_QUERY_SLOTS && query_slots[level].queryDesc == NULL)
		{
			qc = &query_slots[level];
			qc->planid = 0;
			qc->planning = 0;
		}
		else
			qc = palloc0(sizeof(QueryCpu));

		/*
		 * The executor's figures for the whole statement, kept in the slot
		 * (no allocation), which outlives every reader of totaltime: it is
		 * freed with the executor's memory.
		 */
		if (queryDesc->totaltime == NULL)
		{
			InstrInit(&qc->totaltime, INSTRUMENT_ALL);
			queryDesc->totaltime = &qc->totaltime;
		}
		if (pgsm_enable_query_plan && queryDesc->planstate != NULL)
			qc->planid = plan_id(queryDesc->plannedstmt);
		MemoryContextSwitchTo(oldcxt);

		qc->level = level;
		if (npending_plannings > 0)
			qc->planning = pending_claim(queryDesc->plannedstmt->queryId,
										 level, qc->planid, qc);

		qc->queryDesc = queryDesc;
		qc->app = *app_name_current();
		qc->userid = GetUserId();
		cpu_start(&qc->start, level);
		qc->cb.func = query_cpu_forget;
		qc->cb.arg = qc;
		MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt,
										   &qc->cb);
		qc->next = running_queries;
		running_queries = qc;
	}
}

/* What a query runs is nested (see frame_push). */
static void
pgsm_ExecutorRun(PGSM_EXECUTOR_RUN_ARGS)
{
	int			level = frame_push();

	if (prev_ExecutorRun)
		prev_ExecutorRun(PGSM_EXECUTOR_RUN_CALL);
	else
		standard_ExecutorRun(PGSM_EXECUTOR_RUN_CALL);
	frame_level = level;
}

static void
pgsm_ExecutorFinish(QueryDesc *queryDesc)
{
	int			level = frame_push();

	if (prev_ExecutorFinish)
		prev_ExecutorFinish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
	frame_level = level;
}

static void
pgsm_ExecutorEnd(QueryDesc *queryDesc)
{
	uint64		queryId = queryDesc->plannedstmt->queryId;
	QueryCpu   *qc = NULL;
	int			level = nesting_level();

	for (QueryCpu *q = running_queries; q != NULL; q = q->next)
		if (q->queryDesc == queryDesc)
		{
			qc = q;
			break;
		}

	if (qc != NULL && queryId != UINT64CONST(0) && queryDesc->totaltime &&
		pgsm_enabled(qc->level))
	{
		PgsmSample	sample;
		PgsmCounters planning;
		PgsmKey		key;
		TextSource	src;
		CpuTimes	end;
		instr_time	now;
		double		msec;
		int			what = PGSM_RECORD_EXEC;

		INSTR_TIME_SET_CURRENT(now);
		cpu_end(&end, &qc->start, qc->level, PGSM_INSTR_TIME_NS(now));
		InstrEndLoop(queryDesc->totaltime);
		msec = queryDesc->totaltime->total * 1000.0;

		/* the store adds these straight into the entry */
		sample.total_time = msec;
		sample.rows = queryDesc->estate->es_processed;
		sample.cpu_user_time = cpu_ms(qc->start.user, end.user);
		sample.cpu_sys_time = cpu_ms(qc->start.sys, end.sys);
		sample.bufusage = &queryDesc->totaltime->bufusage;
		sample.walusage = &queryDesc->totaltime->walusage;
		sample.jit = queryDesc->estate->es_jit ?
			&queryDesc->estate->es_jit->instr : NULL;
		sample.parallel_workers_to_launch =
			PGSM_PARALLEL_WORKERS_TO_LAUNCH(queryDesc->estate);
		sample.parallel_workers_launched =
			PGSM_PARALLEL_WORKERS_LAUNCHED(queryDesc->estate);
		sample.planning = NULL;

		executor_text_source(queryDesc, qc, &src);
		make_key(&key, queryId, qc->planid, qc->level, &qc->app,
				 qc->userid);

		/*
		 * The planning that made the plan goes into the same row, in the
		 * same visit to the store, unless something of the key changed in
		 * between (the user, the application, the bucket).
		 */
		if (qc->planning > 0)
		{
			PendingPlanning *p = &pending_plannings[qc->planning - 1];

			if (p->claimed == qc &&
				memcmp(&p->key, &key, sizeof(PgsmKey)) == 0)
			{
				planning = p->delta;
				sample.planning = &planning;
				what |= PGSM_RECORD_PLAN;
				p->used = false;
				npending_plannings--;
				qc->planning = 0;
			}
			else if (p->claimed == qc)
			{
				p->claimed = NULL;
				qc->planning = 0;
				pending_record(p - pending_plannings);
			}
		}
		pgsm_store_record(&key, &sample, pgsm_histogram_cell(msec), what,
						  build_texts, &src);
	}

	if (level == 0)
		noted_stmt.done = true;
	if (npending_plannings > 0)
		pending_flush(level);

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* Run a utility statement: the hook replaced, or the standard one. */
static inline void
utility_run(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest,
			QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * Run a utility statement one level down, the level taken back in an error
 * trap: CALL, DO, VACUUM, CREATE INDEX CONCURRENTLY and others may end and
 * start transactions while they run, so their level cannot be checked
 * against the transaction it started in (see frames).
 */
static pg_noinline void
utility_nested(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			   ProcessUtilityContext context, ParamListInfo params,
			   QueryEnvironment *queryEnv, DestReceiver *dest,
			   QueryCompletion *qc)
{
	utility_level++;
	PG_TRY();
	{
		utility_run(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		utility_level--;
	}
	PG_END_TRY();
}

/*
 * Utility statements that end no transaction while they run, the commonest
 * ones: SET, RESET and SHOW, and the transaction statements, which only
 * change the state of the transaction block (the transaction itself ends
 * after the statement).
 */
static inline bool
utility_atomic(Node *parsetree)
{
	return IsA(parsetree, VariableSetStmt) ||
		IsA(parsetree, VariableShowStmt) ||
		IsA(parsetree, TransactionStmt);
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
	uint64		queryId;
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	int			level = nesting_level();
	bool		is_execute = IsA(parsetree, ExecuteStmt);
	bool		track;
	instr_time	start;
	int64		start_ns = 0;
	BufferUsage bufusage_start;
	WalUsage	walusage_start;
	CpuTimes	cpu_at_start;
	AppName		app;
	Oid			userid = GetUserId();	/* at start, as the name */

	/* the query id is worked out only for a statement that is recorded */
	track = pgsm_track_utility &&
		!is_execute && !IsA(parsetree, PrepareStmt) &&
		(PGSM_TRACK_DEALLOCATE || !IsA(parsetree, DeallocateStmt)) &&
		pgsm_enabled(level);
	queryId = !track ? UINT64CONST(0) :
		pstmt->queryId != UINT64CONST(0) ? pstmt->queryId :
		utility_query_id(pstmt, queryString, context);
	track = queryId != UINT64CONST(0);

	if (track)
	{
		app = *app_name_current();
		bufusage_start = pgBufferUsage;
		walusage_start = pgWalUsage;
		cpu_start(&cpu_at_start, level);
		INSTR_TIME_SET_CURRENT(start);
		start_ns = PGSM_INSTR_TIME_NS(start);
	}

	/*
	 * What a utility statement runs is nested in it, except for EXECUTE: the
	 * prepared statement it runs stands at EXECUTE's own level.  A statement
	 * that cannot end a transaction while it runs adds its level as the
	 * executor does (frame_push); any other sets an error trap.
	 */
	if (is_execute)
		utility_run(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc);
	else if (utility_atomic(parsetree))
	{
		int			frame = frame_push();

		utility_run(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc);
		frame_level = frame;
	}
	else
		utility_nested(pstmt, queryString, readOnlyTree, context, params,
					   queryEnv, dest, qc);

	if (track)
	{
		instr_time	end;
		int64		end_ns;
		BufferUsage bufusage;
		WalUsage	walusage;
		CpuTimes	cpu_at_end;
		PgsmSample	sample = {0};
		PgsmKey		key;
		TextSource	src = {0};

		INSTR_TIME_SET_CURRENT(end);
		end_ns = PGSM_INSTR_TIME_NS(end);
		cpu_end(&cpu_at_end, &cpu_at_start, level, end_ns);

		/*
		 * Most utility statements (SET, BEGIN, COMMIT) read no block and
		 * write no WAL: a comparison then spares working out and adding
		 * differences that are all zero.
		 */
		if (memcmp(&pgBufferUsage, &bufusage_start, sizeof(BufferUsage)) != 0)
		{
			memset(&bufusage, 0, sizeof(bufusage));
			BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
			sample.bufusage = &bufusage;
		}
		if (memcmp(&pgWalUsage, &walusage_start, sizeof(WalUsage)) != 0)
		{
			memset(&walusage, 0, sizeof(walusage));
			WalUsageAccumDiff(&walusage, &pgWalUsage, &walusage_start);
			sample.walusage = &walusage;
		}
		sample.total_time = (end_ns - start_ns) / 1000000.0;
		sample.cpu_user_time = cpu_ms(cpu_at_start.user, cpu_at_end.user);
		sample.cpu_sys_time = cpu_ms(cpu_at_start.sys, cpu_at_end.sys);
		/* the rows of the commands that report them, as pg_stat_statements */
		if (qc != NULL &&
			(qc->commandTag == CMDTAG_COPY ||
			 qc->commandTag == CMDTAG_FETCH ||
			 qc->commandTag == CMDTAG_SELECT ||
			 qc->commandTag == CMDTAG_REFRESH_MATERIALIZED_VIEW))
			sample.rows = qc->nprocessed;

		src.source = queryString;
		src.location = location;
		src.len = len;
		src.nested = level > 0;
		src.cmd_type = CMD_UTILITY;
		src.appname = app.name;
		make_key(&key, queryId, 0, level, &app, userid);
		pgsm_store_record(&key, &sample, pgsm_histogram_cell(sample.total_time),
						  PGSM_RECORD_EXEC, build_texts, &src);
	}

	if (level == 0)
		noted_stmt.done = true;
	if (npending_plannings > 0)
		pending_flush(level);
}

/*
 * Where the statement an error belongs to is in debug_query_string
 * (*location -1: the whole string; *len 0: to its end), and the query id
 * the error is filed under (0: to be worked out from the text).  Reads at
 * most pgsm_query_max_len bytes past the noted statement, and only when
 * that statement has ended.
 */
static inline uint64
error_statement(int *location, int *len)
{
	uint64		queryid = pgstat_get_my_query_id();

	*location = -1;
	*len = 0;
	if (noted_stmt_current())
	{
		int			after = 0;
		bool		later = false;

		/* a statement that ended: was it a later one of the string that failed? */
		if (noted_stmt.done && noted_stmt.len > 0)
		{
			int			limit;

			after = noted_stmt.location + noted_stmt.len;
			limit = after + pgsm_query_max_len;
			while (after < limit && debug_query_string[after] != '\0' &&
				   (scanner_isspace(debug_query_string[after]) ||
					debug_query_string[after] == ';'))
				after++;
			later = debug_query_string[after] != '\0';
		}

		if (!later)
		{
			/* the statement itself, or the commit after it */
			*location = noted_stmt.location;
			*len = noted_stmt.len;
		}
		else
		{
			/*
			 * A later statement of the string that failed in parse analysis:
			 * its text runs from there on, and the query id reported is
			 * still the earlier statement's.
			 */
			*location = after;
			if (queryid == noted_stmt.queryid)
				queryid = UINT64CONST(0);
		}
	}
	return queryid;
}

/*
 * Make the row of an error (the error hook's slow path), in the hook's own
 * memory.  A key whose query id is 0 is of a statement that failed before
 * parse analysis, identified by its normalized text, the part of it that
 * is kept.
 */
static pg_noinline void
error_record_texts(ErrorData *edata, PgsmKey *key, int location, int len,
				   const AppName *app)
{
	PgsmSample	sample = {0};
	TextSource	src = {0};

	src.source = debug_query_string;
	src.location = location;
	src.len = len;
	src.bounded = true;
	src.message = edata->message ? edata->message : "";
	src.sqlerrcode = edata->sqlerrcode;
	src.appname = app->name;
	src.cmd_type = CMD_UNKNOWN;
	if (key->queryid == 0)
	{
		int			stmt_len;
		const char *stmt = statement_text(src.source, location, len, true,
										  &stmt_len);
		char	   *norm = pgsm_scan_query(stmt, stmt_len, pgsm_query_max_len,
										   true, 0, NULL, NULL);

		key->queryid = (int64) hash_bytes_extended((const unsigned char *) norm,
												   strlen(norm), 0);
	}
	pgsm_store_record(key, &sample, -1, PGSM_RECORD_EXEC, build_texts, &src);
}

/* The same, with the hook's memory emptied afterwards whatever happens. */
static pg_noinline void
error_record_new(ErrorData *edata, PgsmKey *key, int location, int len,
				 const AppName *app)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(error_hook_cxt);

	PG_TRY();
	{
		error_record_texts(edata, key, location, len, app);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(error_hook_cxt);
		in_error_hook = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(error_hook_cxt);
	in_error_hook = false;
}

/*
 * Errors and warnings of client statements, attributed to the top-level
 * statement.  Nothing here may raise an error of its own: the text scanner
 * cannot, and the store is not entered when this backend already holds its
 * lock.  An error whose row exists only has its count raised, with nothing
 * allocated and no error trap set up; only making a row needs them.
 */
static void
pgsm_emit_log_hook(ErrorData *edata)
{
	const AppName *app;
	PgsmKey		key;
	uint64		queryid;
	QueryCpu   *top;
	Oid			userid;
	int			location;
	int			len;

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);

	/* what an aborted statement used is not the next one's */
	if (edata->elevel >= ERROR)
		last_cpu_valid = false;

	if (in_error_hook || edata->elevel < WARNING || edata->elevel > ERROR ||
		MyProc == NULL || debug_query_string == NULL ||
		!pgsm_enabled(0) || pgsm_store_lock_held())
		return;

	in_error_hook = true;
	queryid = error_statement(&location, &len);

	/*
	 * An error of a top-level statement that the executor runs is filed
	 * under the application and user that statement started with, as its
	 * own row is; otherwise under those of the moment.
	 */
	top = running_queries;
	while (top != NULL && top->level != 0)
		top = top->next;
	if (top != NULL && queryid != UINT64CONST(0) &&
		top->queryDesc->plannedstmt->queryId == queryid)
	{
		app = &top->app;
		userid = top->userid;
	}
	else
	{
		app = app_name_current();
		userid = GetUserId();
	}
	make_key(&key, queryid, 0, 0, app, userid);
	key.sqlcode = edata->sqlerrcode;
	key.elevel = (uint8) edata->elevel;
	if (queryid != UINT64CONST(0) && pgsm_store_count_error(&key))
	{
		in_error_hook = false;
		return;
	}
	error_record_new(edata, &key, location, len, app);
}

/* Install the hooks; called from _PG_init when the library is preloaded. */
void
pgsm_hooks_install(void)
{
	/* may be used inside a critical section, as ErrorContext is */
	error_hook_cxt = AllocSetContextCreate(TopMemoryContext,
										   "pg_stat_monitor error hook",
										   ALLOCSET_SMALL_SIZES);
	MemoryContextAllowInCriticalSection(error_hook_cxt, true);

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
