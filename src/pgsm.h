/*-------------------------------------------------------------------------
 *
 * pgsm.h
 *		Declarations shared by the files of pg_stat_monitor.
 *
 * The extension collects per-statement statistics into one fixed-size
 * shared-memory area (the "store", store.c), and a background worker
 * (worker.c) moves finished buckets out of it into tables.  This header
 * holds the settings, the layout of one store entry, and the interfaces
 * between the files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSM_H
#define PGSM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/instrument.h"
#include "jit/jit.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "storage/spin.h"

#include "compat.h"

struct Latch;

#define PGSM_NAME				"pg_stat_monitor"
#define PGSM_VERSION			"2.4"

/* Values of pg_stat_monitor.pgsm_track */
typedef enum PgsmTrack
{
	PGSM_TRACK_NONE,
	PGSM_TRACK_TOP,
	PGSM_TRACK_ALL
} PgsmTrack;

/* Settings (pg_stat_monitor.c) */
extern int	pgsm_max;
extern int	pgsm_query_max_len;
extern int	pgsm_max_buckets;
extern int	pgsm_bucket_time;
extern double pgsm_histogram_min;
extern double pgsm_histogram_max;
extern int	pgsm_histogram_buckets;
extern int	pgsm_query_shared_buffer;
extern bool pgsm_track_utility;
extern bool pgsm_enable_pgsm_query_id;
extern bool pgsm_normalized_query;
extern bool pgsm_enable_overflow;
extern bool pgsm_enable_query_plan;
extern bool pgsm_extract_comments;
extern int	pgsm_track;
extern bool pgsm_track_planning;
extern double pgsm_cpu_time_interval;
extern bool pgsm_enable_table_export;
extern char *pgsm_database;
extern char *pgsm_export_target;
extern char *pgsm_server_name;
extern const char *pgsm_effective_server_name(void);
extern int	pgsm_partition_span;
extern int	pgsm_retention;
extern int	pgsm_compact_after;
extern int	pgsm_history_max_size;
extern bool pgsm_mask_error_values;

/* Longest error message kept, and how much of one is read, in bytes */
#define PGSM_MESSAGE_MAX_LEN	256
#define PGSM_MESSAGE_SCAN_LEN	1024
/* Longest comment or relation list kept, in bytes */
#define PGSM_COMMENTS_MAX_LEN	256
#define PGSM_RELATIONS_MAX_LEN	512
/* Upper bound of pg_stat_monitor.pgsm_histogram_buckets */
#define PGSM_HISTOGRAM_MAX_BUCKETS	50

/*
 * What identifies an entry.  Keys are compared and hashed as raw bytes, so
 * every key must be zeroed before it is filled in.  The statement's part
 * comes first; from userid on, the session's part, which is the same for
 * every statement of a session until the user or the application name
 * changes: the store hashes it only when it changes (store.c, key_hash).
 */
typedef struct PgsmKey
{
	int64		bucket;			/* start of its bucket, in seconds since the
								 * Unix epoch (store.c, bucket_of) */
	int64		queryid;		/* core query id */
	int64		planid;			/* hash of the plan text, or 0 */
	int64		top_queryid;	/* query id of the top-level statement */
	int32		sqlcode;		/* packed SQLSTATE of an error, or 0 */
	uint8		elevel;			/* elevel of an error or warning, or 0 */
	bool		toplevel;
	bool		overflow;		/* an overflow row (store.c): only bucket,
								 * userid, dbid and toplevel are set */
	/* the session's part */
	Oid			userid;
	Oid			dbid;
	uint64		appid;			/* hash of application_name, or 0 */
	uint8		addr_family;	/* 0 (none, e.g. Unix socket), 4 or 6 */
	uint8		addr[16];		/* client address, network byte order */
} PgsmKey;

#define PGSM_KEY_SESSION_OFFSET	offsetof(PgsmKey, userid)

/* The query text of an overflow row */
#define PGSM_OVERFLOW_TEXT		"<other statements: store full>"


/* Counters of an entry, protected by the entry's mutex */
typedef struct PgsmCounters
{
	int64		calls;
	int64		rows;
	double		total_time;		/* execution time, in msec */
	double		min_time;
	double		max_time;
	double		mean_time;
	double		sum_var_time;	/* sum of squared deviations, Welford */
	int64		plans;
	double		total_plan_time;
	double		min_plan_time;
	double		max_plan_time;
	double		mean_plan_time;
	double		sum_var_plan_time;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int64		shared_blks_dirtied;
	int64		shared_blks_written;
	int64		local_blks_hit;
	int64		local_blks_read;
	int64		local_blks_dirtied;
	int64		local_blks_written;
	int64		temp_blks_read;
	int64		temp_blks_written;
	double		blk_read_time;	/* shared blocks only, from 17 on */
	double		blk_write_time;
	double		local_blk_read_time;	/* 17 on */
	double		local_blk_write_time;
	double		temp_blk_read_time;
	double		temp_blk_write_time;
	double		cpu_user_time;	/* msec */
	double		cpu_sys_time;
	int64		wal_records;
	int64		wal_fpi;
	uint64		wal_bytes;
	int64		wal_buffers_full;	/* 18 on */
	int64		jit_functions;
	double		jit_generation_time;
	int64		jit_inlining_count;
	double		jit_inlining_time;
	int64		jit_optimization_count;
	double		jit_optimization_time;
	int64		jit_emission_count;
	double		jit_emission_time;
	int64		jit_deform_count;	/* 17 on */
	double		jit_deform_time;
	int64		parallel_workers_to_launch; /* 18 on */
	int64		parallel_workers_launched;
} PgsmCounters;

/*
 * The texts of an entry, in the order they are laid out in the store's text
 * area: one contiguous run per entry, written once when the entry is made.
 */
typedef enum PgsmTextKind
{
	PGSM_TEXT_QUERY,
	PGSM_TEXT_TOP_QUERY,
	PGSM_TEXT_PLAN,
	PGSM_TEXT_MESSAGE,
	PGSM_TEXT_COMMENTS,
	PGSM_TEXT_RELATIONS,
	PGSM_TEXT_APPNAME,
	PGSM_TEXT_DATNAME,
	PGSM_TEXT_USERNAME,
	PGSM_NUM_TEXTS
} PgsmTextKind;

/*
 * One entry of the store.  Entries are PgsmEntrySize bytes apart: the
 * response-time histogram at the end has as many cells as the settings ask.
 */
typedef struct PgsmEntry
{
	PgsmKey		key;
	slock_t		mutex;			/* protects counters and hist */
	uint8		cmd_type;		/* CmdType of the statement */
	int32		bucket_len;		/* length of its bucket, in seconds */
	int64		pgsm_query_id;	/* hash of the normalized text */
	TimestampTz first_seen;		/* when the entry was made */
	uint32		text_offset;	/* start of this entry's texts */
	uint32		text_len[PGSM_NUM_TEXTS];
	PgsmCounters counters;
	int32		hist[FLEXIBLE_ARRAY_MEMBER];
} PgsmEntry;

/*
 * One statement's figures as a hook has them, added by the store straight
 * into its entry: the execution's, where the executor keeps them, and a
 * planning's, gathered beforehand (hooks.c keeps a planning until its
 * execution ends).
 */
typedef struct PgsmSample
{
	double		total_time;		/* execution time, msec */
	int64		rows;
	double		cpu_user_time;	/* msec */
	double		cpu_sys_time;
	const BufferUsage *bufusage;	/* the execution's, or NULL */
	const WalUsage *walusage;	/* the execution's, or NULL */
	const JitInstrumentation *jit;	/* or NULL */
	int64		parallel_workers_to_launch;
	int64		parallel_workers_launched;
	const PgsmCounters *planning;	/* with PGSM_RECORD_PLAN: its time,
									 * blocks and WAL */
} PgsmSample;

/* What a hook hands to the store for one statement. */
typedef struct PgsmTexts
{
	const char *str[PGSM_NUM_TEXTS];
	uint32		len[PGSM_NUM_TEXTS];
} PgsmTexts;

/* What pgsm_store_record() adds: a planning, an execution, or both */
#define PGSM_RECORD_PLAN		0x01
#define PGSM_RECORD_EXEC		0x02

/* Results of pgsm_store_record() */
typedef enum PgsmRecordResult
{
	PGSM_RECORDED,
	PGSM_FOLDED					/* no room: added to an overflow row */
} PgsmRecordResult;

/*
 * Called by the store, with no lock held, when a statement needs a new
 * entry: fills in the entry's texts, its pgsm_query_id and command type.
 */
typedef void (*PgsmBuildTexts) (void *arg, const PgsmKey *key,
								PgsmTexts *texts, int64 *pgsm_query_id,
								uint8 *cmd_type);

/* What the worker reports about itself, shown by pg_stat_monitor_info */
typedef struct PgsmWorkerStats
{
	int64		exports;		/* batches written */
	int64		rows_exported;
	int64		early_flushes;	/* exports asked for by a full store */
	int64		export_failures;
	double		last_export_ms; /* duration of the last export */
	double		last_lock_ms;	/* lock-hold time of the last export */
	TimestampTz last_export_time;
	TimestampTz last_error_time;
	char		last_error[256];
	int8		database_found; /* pgsm_database, as last checked: -1 unknown */
	int64		history_rows_dropped;	/* by pgsm_history_max_size */
	int64		totals_added;	/* additions of batches to the totals */
	double		last_totals_ms; /* duration of the last one */
} PgsmWorkerStats;

/* Store (store.c) */
extern int	pgsm_hist_cells;
extern Size PgsmEntrySize;

extern void pgsm_store_request(void);
extern bool pgsm_store_ready(void);
extern void pgsm_store_check_ready(void);
extern PgsmRecordResult pgsm_store_record(const PgsmKey *key,
										  const PgsmSample *sample,
										  int hist_cell, int what,
										  PgsmBuildTexts build_texts,
										  void *arg);
extern bool pgsm_store_count_error(const PgsmKey *key);
extern int64 pgsm_current_bucket(TimestampTz now);
extern int64 pgsm_statement_bucket(TimestampTz start);
extern int64 pgsm_previous_bucket(int64 bucket);
extern int	pgsm_bucket_length(int64 bucket);
extern TimestampTz pgsm_bucket_start(int64 bucket);
extern TimestampTz pgsm_bucket_end(int64 bucket, int len);
extern int64 pgsm_bucket_number(int64 bucket, int len);
extern int64 pgsm_window_first(TimestampTz now);
extern void pgsm_schedule_update(TimestampTz now, int bucket_time);
extern int	pgsm_histogram_cell(double msec);
extern double pgsm_histogram_bound(int cell);

/* A copy of the store's contents, for readers */
typedef struct PgsmSnapshot
{
	int			nentries;
	char	   *entries;		/* nentries * PgsmEntrySize bytes */
	char	   *texts;			/* the text area, as long as the last text */
	bool	   *exporting;		/* per entry: part of a batch being written */
	uint64		batch_id;		/* the batch being written, or 0 */
} PgsmSnapshot;

#define PgsmSnapshotEntry(snap, i) \
	((PgsmEntry *) ((snap)->entries + (Size) (i) * PgsmEntrySize))

extern void pgsm_store_snapshot(PgsmSnapshot *snap, bool frozen_only);
extern void pgsm_store_reset(void);
extern void pgsm_store_discard_buckets_before(int64 bucket);

/* Export batches (store.c, used by the worker) */
extern uint64 pgsm_store_freeze(void);
extern int64 *pgsm_store_batch_buckets(int *n, int **entries);
extern void pgsm_store_release_batch(uint64 batch_id);
extern bool pgsm_store_flush_wanted(void);
extern void pgsm_store_request_flush(void);
extern bool pgsm_store_totals_wanted(void);
extern void pgsm_store_set_worker_latch(struct Latch *latch);
extern Size pgsm_store_touch(void);
extern void pgsm_store_worker_stats(PgsmWorkerStats *out,
									const PgsmWorkerStats *in);

/* Store information, for pg_stat_monitor_info */
typedef struct PgsmStoreInfo
{
	Size		size;			/* bytes of shared memory in all */
	int			max_entries;
	int			entries;
	Size		text_size;
	Size		text_used;
	uint64		calls_folded;
	uint64		entries_folded;
	TimestampTz reset_time;
	uint64		calls_lost;		/* could not be kept across a restart */
} PgsmStoreInfo;

extern void pgsm_store_info(PgsmStoreInfo *info);
extern bool pgsm_store_lock_held(void);

/* SQL-callable functions (functions.c) */
#define PGSM_COLS			74	/* columns of pg_stat_monitor_internal() */
#define PGSM_COLS_2_3		65	/* ... and before 2.4 */
extern void pgsm_entry_row(const PgsmEntry *e, const char *texts,
						   bool showtext, bool masked, TimestampTz now,
						   Datum *values, bool *nulls);

/* Text scanning (text.c) */
extern void pgsm_leading_comments(const char *source, int location,
								  StringInfo comments);
extern char *pgsm_scan_query(const char *query, int len, int max_len,
							 bool normalize, int min_param,
							 StringInfo comments, bool *secret);
extern int64 pgsm_text_id(const char *normalized);
extern char *pgsm_mask_message(const char *msg, int len, bool complete);
extern char *pgsm_mask_near_token(const char *msg, int len, bool complete,
								  bool secret);

/* Hooks (hooks.c) */
extern bool pgsm_in_worker;
extern void pgsm_hooks_install(void);

/* A frozen batch as history rows (batch.c) */
typedef struct PgsmBatch PgsmBatch;

extern List *pgsm_history_column_names(PgsmBatch *b);
extern int	pgsm_history_ncols(PgsmBatch *b);
extern int	pgsm_history_column(PgsmBatch *b, const char *name);
extern PgsmBatch *pgsm_batch_open(uint64 batch_id, bool v2_4);
extern const char *pgsm_batch_server_name(PgsmBatch *b);
extern int	pgsm_batch_entries(PgsmBatch *b);
extern PgsmSnapshot *pgsm_batch_snapshot(PgsmBatch *b);
extern void pgsm_batch_new_texts(PgsmBatch *b, Datum **ids, Datum **texts,
								 int *n);
extern void pgsm_batch_rewind(PgsmBatch *b);
extern void pgsm_batch_trim(PgsmBatch *b);
extern uint64 pgsm_batch_id(PgsmBatch *b);
extern void pgsm_batch_row_values(PgsmBatch *b, int n, Datum *values,
								  bool *nulls, const bool *wanted);
extern Datum pgsm_batch_text(PgsmBatch *b, int n, int kind, bool *isnull);
extern int	pgsm_batch_read(PgsmBatch *b, void *out, int minread, int maxread);
extern void pgsm_batch_forget_texts(void);

/* The running totals of pg_stat_monitor_statements (totals.c) */
extern void pgsm_totals_pend(PgsmBatch *batch, MemoryContext cxt);
extern bool pgsm_totals_pending(void);
extern Size pgsm_totals_pending_bytes(void);
extern int	pgsm_totals_fold(const char *schema, const char *quoted,
							 bool one);
extern void pgsm_totals_added(void);
extern void pgsm_totals_forget(void);

/* The connection to a repository (remote.c) */
extern const char *pgsm_remote_open(int *version);
extern int	pgsm_remote_exec(const char *sql, int nparams,
							 const char *const *values, char **first);
extern uint64 pgsm_remote_copy(const char *sql,
							   int (*read) (void *arg, void *out, int minread, int maxread),
							   void *arg);
extern void pgsm_remote_close(void);

/* Export (export.c) */
extern void pgsm_export_cycle(bool boundary, int64 finished_bucket);

/* Worker (worker.c) */
extern void pgsm_worker_register(void);
extern PGDLLEXPORT void pgsm_worker_main(Datum arg);
extern void pgsm_lock_history(const char *schema, const char *table,
							  const char *mode);
extern bool pgsm_refresh_launch(const char *schema, bool old_name);
extern PGDLLEXPORT void pgsm_refresh_main(Datum arg);
extern bool pgsm_compact_launch(const char *schema);
extern PGDLLEXPORT void pgsm_compact_main(Datum arg);
extern PGDLLEXPORT void pgsm_check_database_main(Datum arg);

#endif							/* PGSM_H */
