/*-------------------------------------------------------------------------
 *
 * store.c
 *		The shared-memory store of pg_stat_monitor.
 *
 * The store is one area of exactly pg_stat_monitor.pgsm_max bytes, set up
 * at server start and never grown.  It holds:
 *
 *	- a header (PgsmShared) with the lock and the counters;
 *	- an open-addressing index from key to entry number;
 *	- an array of fixed-size entries (PgsmEntry), in the order they were
 *	  made;
 *	- a text area where each entry's texts (query, plan, message, ...) are
 *	  written back to back when the entry is made, so that the text area is
 *	  in the same order as the entries.
 *
 * Nothing is ever removed from the middle: the store only empties by
 * compaction, which slides the surviving entries and their texts to the
 * front in one pass.  That keeps the text area free of holes without any
 * allocator.
 *
 * Export works on batches.  Freezing a batch marks the first nfrozen
 * entries as being written by the worker and takes them out of the index,
 * so backends start new entries for the same keys and never touch a frozen
 * one again.  The worker reads the frozen entries without a lock while it
 * writes them to a table, and releases the batch once that transaction has
 * committed; the release compacts them away.  If the worker dies in
 * between, the batch stays frozen and the next worker finds it.
 *
 * Overflow rows.  When a statement needs a new entry and the store has no
 * room, its call is never dropped: it is added, with all its figures, to
 * an overflow row of its bucket, database, user and level (key.overflow
 * set, query id 0, the text PGSM_OVERFLOW_TEXT).  Room for overflow rows is
 * kept aside, so that folding cannot fail: ordinary entries may use all but
 * 2 * overflow_slots entries (and the text those rows need), and each part
 * of the store, the frozen batch and what came after it, may hold up to
 * overflow_slots overflow rows.  Of those, overflow_catchall are kept for
 * catch-all rows (database and user 0: "any"), one per bucket; when every
 * slot of the live part is taken, a call goes to the catch-all made last,
 * whatever its bucket.  So the total of calls is always exact; per
 * database and user it is exact unless more than overflow_slots -
 * overflow_catchall (database, user, level, bucket) overflow between two
 * exports, and per bucket unless more than overflow_catchall buckets do.
 *
 * Locking:
 *	- pgsm->lock in shared mode to look up an entry and to update its
 *	  counters (under the entry's mutex), and to read the store;
 *	- pgsm->lock in exclusive mode to add an entry (overflow rows too),
 *	  to update the counters of an entry just made or of an overflow row
 *	  found under that lock (no mutex needed then), freeze, release,
 *	  compact or reset;
 *	- pgsm->mutex (a spinlock) for the header's statistics fields;
 *	- frozen entries are immutable; only the worker releases them.
 * No palloc, ereport or other call that can fail happens while the lock
 * is held in exclusive mode, except in pgsm_store_snapshot(), which holds
 * it in shared mode only.
 *
 * At a clean shutdown the postmaster writes whatever is still in the store
 * to a file, and the next start reads it back, so that nothing collected
 * is lost across a restart.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "pgsm.h"

#define PGSM_DUMP_FILE		"pg_stat/pg_stat_monitor.stat"
#define PGSM_DUMP_MAGIC		0x50475335	/* "PGS5" */

/*
 * Share of the capacity at which the worker is asked to flush early: a
 * quarter, or less when the observed fill rate asks for it (see
 * adapt_high_water), down to a twentieth.
 */
#define PGSM_HIGH_WATER		0.25
#define PGSM_HIGH_WATER_MIN	0.05

/*
 * Overflow rows each part of the store (frozen batch, live) may hold, and
 * how many of them are kept for catch-all rows.  See the file header.
 */
#define PGSM_OVERFLOW_SLOTS		16
#define PGSM_OVERFLOW_CATCHALL	4
#define OVERFLOW_TEXT_LEN		(sizeof(PGSM_OVERFLOW_TEXT) - 1)

/*
 * Expected text bytes per entry, used only to divide the area between
 * entries and texts.
 */
#define PGSM_EXPECTED_TEXT	320

/* The lengths of buckets over time; see bucket_of() */
typedef struct PgsmSchedule
{
	pg_atomic_uint32 changes;
	int32		prev_len;		/* length before "since" */
	int32		len;			/* length from "since" on */
	int64		since;
	int32		next_len;		/* 0, or the length from "next_at" on */
	int64		next_at;
} PgsmSchedule;

typedef struct PgsmShared
{
	LWLock		lock;
	int			tranche_id;

	/* Layout, fixed at start */
	int			max_entries;
	uint32		index_mask;		/* index has index_mask + 1 slots */
	Size		text_size;
	int			high_entries;	/* flush early past these (moved by */
	Size		high_text;		/* adapt_high_water, under lock) */
	int			overflow_slots; /* overflow rows per part of the store */
	int			overflow_catchall;	/* ... of which kept for catch-alls */

	/* Contents, under lock */
	int			nentries;
	Size		text_used;
	int			nfrozen;		/* entries [0, nfrozen) are a batch */
	Size		frozen_text;	/* ... and texts [0, frozen_text) */
	uint64		batch_id;		/* 0 when no batch is frozen */
	uint64		last_batch_id;
	int			overflow_frozen;	/* overflow rows in [0, nfrozen) */
	int			overflow_live;	/* ... and in [nfrozen, nentries) */
	int			last_catchall;	/* the live catch-all row made last, or -1 */
	TimestampTz last_freeze;	/* for the fill rate: when the last batch */
	uint64		last_folded;	/* was frozen, entries_folded then, */
	double		entry_rate;		/* and entries and text bytes per second */
	double		text_rate;		/* the store was last seen to fill at */

	/* Signals */
	pg_atomic_uint32 flush_wanted;	/* FLUSH_WANTED | TOTALS_WANTED */
	pg_atomic_uint64 calls_folded;
	pg_atomic_uint64 entries_folded;

	PgsmSchedule schedule;		/* see bucket_of() */

	/* Under mutex */
	slock_t		mutex;
	Latch	   *worker_latch;
	TimestampTz reset_time;
	uint64		calls_lost;
	PgsmWorkerStats worker;
} PgsmShared;

int			pgsm_hist_cells;
Size		PgsmEntrySize;

static PgsmShared *pgsm = NULL;
static PgsmSchedule *schedule = NULL;
static int32 *pgsm_index;
static char *pgsm_entries;
static char *pgsm_texts;

/* Boundaries of the histogram cells, in msec: cell i is [b[i], b[i+1]) */
static double hist_bounds[PGSM_HISTOGRAM_MAX_BUCKETS + 3];

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#define EntryAt(i)	((PgsmEntry *) (pgsm_entries + (Size) (i) * PgsmEntrySize))

static void pgsm_shmem_request(void);
static void pgsm_shmem_startup(void);
static void pgsm_store_dump(int code, Datum arg);
static void pgsm_store_load(void);
static void store_compact(int keep_from, int64 min_bucket);
static void index_rebuild(void);
static void overflow_recount(void);

/*
 * Size of one entry for the configured histogram, and the histogram's cell
 * boundaries.  Both depend only on settings that are fixed at start.
 */
static void
pgsm_layout_init(void)
{
	int			n = pgsm_histogram_buckets;
	double		lo = pgsm_histogram_min;
	double		hi = pgsm_histogram_max;

	/* one cell below the minimum, n between minimum and maximum, one above */
	pgsm_hist_cells = n + 2;
	PgsmEntrySize = MAXALIGN(offsetof(PgsmEntry, hist) +
							 sizeof(int32) * pgsm_hist_cells);

	/*
	 * Cells between the minimum and the maximum grow geometrically, so that
	 * each covers about the same ratio of times: bound i is
	 * lo - 1 + (hi - lo + 1)^(i/n), which starts at lo and ends at hi even
	 * when lo is zero.
	 */
	hist_bounds[0] = 0.0;
	for (int i = 0; i <= n; i++)
		hist_bounds[i + 1] = lo - 1.0 + pow(hi - lo + 1.0, (double) i / n);
	hist_bounds[1] = lo;
	hist_bounds[n + 1] = hi;
	hist_bounds[n + 2] = INFINITY;
}

/*
 * The histogram cell a time in msec falls in.  A binary search over at most
 * 52 bounds: cheaper than a logarithm on every statement.
 */
int
pgsm_histogram_cell(double msec)
{
	int			lo = 0;
	int			hi = pgsm_hist_cells - 1;

	/* most statements take less than the minimum */
	if (msec < hist_bounds[1])
		return 0;

	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (msec >= hist_bounds[mid])
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Lower bound of a histogram cell; cell pgsm_hist_cells is +infinity. */
double
pgsm_histogram_bound(int cell)
{
	Assert(cell >= 0 && cell <= pgsm_hist_cells);
	return hist_bounds[cell];
}

/*
 * Buckets.  A bucket is known by its start, in seconds since the Unix
 * epoch.  Buckets are aligned to multiples of their length, except that
 * none starts before the moment the length last changed: the first bucket
 * of a new length starts where the last one of the old length ended.
 *
 * The length is pg_stat_monitor.pgsm_bucket_time, and may change at a
 * reload.  Backends see a reload each at its own time, so they do not read
 * the setting: they read the schedule below, which only the worker writes.
 * When the worker sees a new length, it asks for it from the end of the
 * bucket in progress; until then, and for statements that started before,
 * the old length holds.
 *
 * The schedule is read on every statement, so without a lock: the change
 * count is odd while the worker writes, and a reader that sees it odd or
 * changed reads again.
 */
static void
schedule_read(PgsmSchedule *out)
{
	for (;;)
	{
		uint32		before = pg_atomic_read_u32(&schedule->changes);

		pg_read_barrier();
		out->prev_len = schedule->prev_len;
		out->len = schedule->len;
		out->since = schedule->since;
		out->next_len = schedule->next_len;
		out->next_at = schedule->next_at;
		pg_read_barrier();
		if ((before & 1) == 0 &&
			pg_atomic_read_u32(&schedule->changes) == before)
			return;
		SPIN_DELAY();
	}
}

/* Only the worker (and the postmaster, at start) writes the schedule. */
static void
schedule_write(const PgsmSchedule *in)
{
	pg_atomic_fetch_add_u32(&schedule->changes, 1);
	pg_write_barrier();
	schedule->prev_len = in->prev_len;
	schedule->len = in->len;
	schedule->since = in->since;
	schedule->next_len = in->next_len;
	schedule->next_at = in->next_at;
	pg_write_barrier();
	pg_atomic_fetch_add_u32(&schedule->changes, 1);
}

/* The bucket that holds second "t": its start, and its length in *len. */
static int64
bucket_of(int64 t, int32 *len)
{
	PgsmSchedule s;
	int64		since;
	int64		start;

	schedule_read(&s);
	if (s.next_len > 0 && t >= s.next_at)
	{
		*len = s.next_len;
		since = s.next_at;
	}
	else if (t >= s.since)
	{
		*len = s.len;
		since = s.since;
	}
	else
	{
		*len = s.prev_len;
		since = PG_INT64_MIN;
	}
	start = t - t % *len;
	return Max(start, since);
}

static inline int64
unix_seconds(TimestampTz ts)
{
	return ts / USECS_PER_SEC +
		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/* The start of the bucket that holds a moment. */
int64
pgsm_current_bucket(TimestampTz now)
{
	int32		len;

	return bucket_of(unix_seconds(now), &len);
}

/*
 * The bucket of a statement that started at "start": pgsm_current_bucket(),
 * remembered for the second last asked about while the schedule stays as
 * it was, since a backend asks for every statement it records.  The second
 * is kept as the range of timestamps it covers, so that a statement of the
 * same second costs two comparisons, not a division.
 */
int64
pgsm_statement_bucket(TimestampTz start)
{
	static TimestampTz from = 0;	/* [from, to): the second remembered */
	static TimestampTz to = 0;
	static uint32 last_changes;
	static int64 last_bucket;
	uint32		changes = pg_atomic_read_u32(&schedule->changes);

	if (start < from || start >= to || changes != last_changes ||
		(changes & 1) != 0)
	{
		int64		t = unix_seconds(start);
		int32		len;

		/* a change made meanwhile shows in the count the next time */
		last_bucket = bucket_of(t, &len);
		last_changes = changes;
		/* the timestamps unix_seconds() takes to t (before 2000: none) */
		from = (start / USECS_PER_SEC) * USECS_PER_SEC;
		to = from + USECS_PER_SEC;
	}
	return last_bucket;
}

/* The bucket just before the given one. */
int64
pgsm_previous_bucket(int64 bucket)
{
	int32		len;

	return bucket_of(bucket - 1, &len);
}

/* The length of the bucket that starts at the given second. */
int
pgsm_bucket_length(int64 bucket)
{
	int32		len;

	(void) bucket_of(bucket, &len);
	return len;
}

TimestampTz
pgsm_bucket_start(int64 bucket)
{
	return (bucket - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) *
		USECS_PER_SEC;
}

/* The end of a bucket of the given length: where the next one starts. */
TimestampTz
pgsm_bucket_end(int64 bucket, int len)
{
	return pgsm_bucket_start((bucket / len + 1) * len);
}

/* A bucket's number, as pg_stat_monitor shows it: its start / its length. */
int64
pgsm_bucket_number(int64 bucket, int len)
{
	return bucket / len;
}

/*
 * The oldest bucket of the window pg_stat_monitor shows: the bucket that
 * holds "now" and the pgsm_max_buckets - 1 before it.
 */
int64
pgsm_window_first(TimestampTz now)
{
	int64		bucket = pgsm_current_bucket(now);

	for (int i = 1; i < pgsm_max_buckets; i++)
		bucket = pgsm_previous_bucket(bucket);
	return bucket;
}

/*
 * The worker saw pgsm_bucket_time, maybe new after a reload: a new length
 * takes effect at the end of the bucket in progress.  A change that has
 * taken effect is folded into the schedule, so that it keeps only the
 * lengths that statements still running can need.
 */
void
pgsm_schedule_update(TimestampTz now, int bucket_time)
{
	PgsmSchedule s;
	int64		t = unix_seconds(now);
	bool		changed = false;

	schedule_read(&s);
	if (s.next_len > 0 && t >= s.next_at)
	{
		s.prev_len = s.len;
		s.len = s.next_len;
		s.since = s.next_at;
		s.next_len = 0;
		changed = true;
	}

	if (s.next_len == 0 && bucket_time != s.len)
	{
		int32		len;
		int64		start = bucket_of(t, &len);

		s.next_len = bucket_time;
		s.next_at = (start / len + 1) * len;
		changed = true;
		ereport(LOG,
				(errmsg("pg_stat_monitor buckets last %d s from %s on",
						bucket_time,
						timestamptz_to_str(pgsm_bucket_start(s.next_at)))));
	}
	else if (s.next_len > 0 && bucket_time != s.next_len)
	{
		/* asked again before the last change took effect */
		s.next_len = bucket_time == s.len ? 0 : bucket_time;
		changed = true;
	}
	if (changed)
		schedule_write(&s);
}

/*
 * Ask for the store's memory.  Called from _PG_init when the library is
 * preloaded; the memory itself is requested from shmem_request_hook.
 */
void
pgsm_store_request(void)
{
	pgsm_layout_init();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgsm_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgsm_shmem_startup;
}

static Size
pgsm_memsize(void)
{
	return (Size) pgsm_max * 1024 * 1024;
}

static void
pgsm_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(pgsm_memsize());
}

/*
 * Divide the area between index, entries and texts.  The index gets a
 * power-of-two number of slots at most three quarters full; entries and
 * texts share the rest in proportion to an entry plus the text a typical
 * entry brings.
 */
static void
pgsm_divide(PgsmShared *s)
{
	Size		avail = pgsm_memsize() - MAXALIGN(sizeof(PgsmShared));
	Size		per_entry = PgsmEntrySize + PGSM_EXPECTED_TEXT +
		2 * sizeof(int32);
	int			n = (int) (avail / per_entry);
	uint32		slots;
	Size		index_bytes;

	for (;;)
	{
		slots = 1;
		while (slots < (uint32) n + n / 3 + 1)
			slots <<= 1;
		index_bytes = MAXALIGN(slots * sizeof(int32));
		if (index_bytes + (Size) n * PgsmEntrySize < avail || n <= 1)
			break;
		n--;
	}

	s->max_entries = n;
	s->index_mask = slots - 1;
	/* entries address their texts with 32-bit offsets */
	s->text_size = Min(avail - index_bytes - (Size) n * PgsmEntrySize,
					   (Size) PG_UINT32_MAX);
	s->high_entries = (int) (n * PGSM_HIGH_WATER);
	s->high_text = (Size) (s->text_size * PGSM_HIGH_WATER);

	/* pgsm_max is at least 1 MB: over a thousand entries */
	s->overflow_slots = Min(PGSM_OVERFLOW_SLOTS, n / 8);
	s->overflow_catchall = Max(1, s->overflow_slots *
							   PGSM_OVERFLOW_CATCHALL / PGSM_OVERFLOW_SLOTS);
	s->last_catchall = -1;
}

/*
 * Set up the store, or attach to it.  Runs in the postmaster at start and
 * after a crash, under AddinShmemInitLock.
 */
static void
pgsm_shmem_startup(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct(PGSM_NAME, pgsm_memsize(), &found);
	pgsm = (PgsmShared *) base;
	if (!found)
	{
		MemSet(pgsm, 0, sizeof(PgsmShared));
		pgsm->tranche_id = LWLockNewTrancheId();
		LWLockInitialize(&pgsm->lock, pgsm->tranche_id);
		SpinLockInit(&pgsm->mutex);
		pg_atomic_init_u32(&pgsm->flush_wanted, 0);
		pg_atomic_init_u64(&pgsm->calls_folded, 0);
		pg_atomic_init_u64(&pgsm->entries_folded, 0);
		pgsm->reset_time = GetCurrentTimestamp();
		pg_atomic_init_u32(&pgsm->schedule.changes, 0);
		pgsm->schedule.prev_len = pgsm_bucket_time;
		pgsm->schedule.len = pgsm_bucket_time;
		pgsm->schedule.since = 0;
		pgsm->schedule.next_len = 0;
		pgsm_divide(pgsm);
	}
	schedule = &pgsm->schedule;
	LWLockRegisterTranche(pgsm->tranche_id, PGSM_NAME);

	pgsm_index = (int32 *) (base + MAXALIGN(sizeof(PgsmShared)));
	pgsm_entries = (char *) pgsm_index +
		MAXALIGN((pgsm->index_mask + 1) * sizeof(int32));
	pgsm_texts = pgsm_entries + (Size) pgsm->max_entries * PgsmEntrySize;

	if (!found)
		MemSet(pgsm_index, 0, (pgsm->index_mask + 1) * sizeof(int32));
	LWLockRelease(AddinShmemInitLock);

	/*
	 * Only the postmaster reads the saved file and saves the store at
	 * shutdown; a backend started after a crash must not read a file that
	 * may already have been exported.
	 */
	if (!IsUnderPostmaster)
	{
		on_shmem_exit(pgsm_store_dump, (Datum) 0);
		if (!found)
			pgsm_store_load();
	}
}

bool
pgsm_store_ready(void)
{
	return pgsm != NULL;
}

/* For the error hook, which must not wait for a lock its backend holds. */
bool
pgsm_store_lock_held(void)
{
	return LWLockHeldByMe(&pgsm->lock);
}

/*
 * Complain unless the store exists: the library was not preloaded.
 */
void
pgsm_store_check_ready(void)
{
	if (pgsm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_stat_monitor must be loaded via \"shared_preload_libraries\""),
				 errhint("Add pg_stat_monitor to the \"shared_preload_libraries\" setting and restart the server.")));
}

/*
 * Hash of a key.  The session's part of the key (see PgsmKey) is hashed
 * in full; the statement's part, whose fields are hashes already or small
 * numbers, is mixed into it a word at a time.
 */
static inline uint64
key_mix(uint64 h, uint64 v)
{
	h ^= v;
	h *= UINT64CONST(0x9e3779b97f4a7c15);
	return h ^ (h >> 29);
}

static inline uint32
key_hash_with(const PgsmKey *key, uint64 session_hash)
{
	uint64		h = session_hash;

	h = key_mix(h, (uint64) key->queryid);
	h = key_mix(h, (uint64) key->bucket);
	h = key_mix(h, (uint64) key->planid);
	h = key_mix(h, (uint64) key->top_queryid);
	h = key_mix(h, (uint64) (uint32) key->sqlcode |
				((uint64) key->elevel << 32) |
				((uint64) key->toplevel << 40) |
				((uint64) key->overflow << 41));
	/* the index uses the low bits: fold the high ones in */
	return (uint32) (h ^ (h >> 32));
}

static inline uint64
key_session_hash(const PgsmKey *key)
{
	return hash_bytes_extended((const unsigned char *) key + PGSM_KEY_SESSION_OFFSET,
							   sizeof(PgsmKey) - PGSM_KEY_SESSION_OFFSET, 0);
}

static inline uint32
key_hash(const PgsmKey *key)
{
	return key_hash_with(key, key_session_hash(key));
}

/*
 * The same, for a backend's own statements: the session's part is hashed
 * again only when it differs from the last one this backend hashed, which
 * costs a comparison of its bytes.
 */
static inline uint32
key_hash_session_cached(const PgsmKey *key)
{
	static bool valid = false;
	static char last[sizeof(PgsmKey) - PGSM_KEY_SESSION_OFFSET];
	static uint64 last_hash;
	const char *session = (const char *) key + PGSM_KEY_SESSION_OFFSET;

	if (unlikely(!valid || memcmp(last, session, sizeof(last)) != 0))
	{
		memcpy(last, session, sizeof(last));
		last_hash = key_session_hash(key);
		valid = true;
	}
	return key_hash_with(key, last_hash);
}

/*
 * Find the entry for a key, or -1.  Caller holds the lock.
 */
static inline int
index_lookup(const PgsmKey *key, uint32 hash)
{
	uint32		slot = hash & pgsm->index_mask;

	for (;;)
	{
		int32		n = pgsm_index[slot];

		if (n == 0)
			return -1;
		if (memcmp(&EntryAt(n - 1)->key, key, sizeof(PgsmKey)) == 0)
			return n - 1;
		slot = (slot + 1) & pgsm->index_mask;
	}
}

/* Caller holds the lock exclusively; the key is not in the index. */
static void
index_add(int entryno, uint32 hash)
{
	uint32		slot = hash & pgsm->index_mask;

	while (pgsm_index[slot] != 0)
		slot = (slot + 1) & pgsm->index_mask;
	pgsm_index[slot] = entryno + 1;
}

/* Index every entry that is not frozen.  Caller holds the lock exclusively. */
static void
index_rebuild(void)
{
	MemSet(pgsm_index, 0, (pgsm->index_mask + 1) * sizeof(int32));
	for (int i = pgsm->nfrozen; i < pgsm->nentries; i++)
		index_add(i, key_hash(&EntryAt(i)->key));
}

/*
 * What the worker is asked for: an export (by a full store, or anyone), and
 * with it the totals brought up to date (by pg_stat_monitor_flush()).
 */
#define FLUSH_WANTED	1
#define TOTALS_WANTED	2

static void
wake_worker(uint32 what)
{
	Latch	   *latch;

	if ((pg_atomic_fetch_or_u32(&pgsm->flush_wanted, what) & what) == what)
		return;
	SpinLockAcquire(&pgsm->mutex);
	latch = pgsm->worker_latch;
	SpinLockRelease(&pgsm->mutex);
	if (latch)
		SetLatch(latch);
}

/* Add one sample to a running min/max/mean/variance (Welford). */
static inline void
add_sample(double x, int64 n, double *mean, double *sum_var,
		   double *min, double *max)
{
	if (n == 1)
	{
		*mean = *min = *max = x;
		*sum_var = 0.0;
	}
	else
	{
		double		old_mean = *mean;

		*mean += (x - old_mean) / n;
		*sum_var += (x - old_mean) * (x - *mean);
		if (x < *min)
			*min = x;
		if (x > *max)
			*max = x;
	}
}

/* Add a planning's blocks and WAL, gathered beforehand, to an entry's. */
static inline void
add_counted_usage(PgsmCounters *c, const PgsmCounters *d)
{
	c->shared_blks_hit += d->shared_blks_hit;
	c->shared_blks_read += d->shared_blks_read;
	c->shared_blks_dirtied += d->shared_blks_dirtied;
	c->shared_blks_written += d->shared_blks_written;
	c->local_blks_hit += d->local_blks_hit;
	c->local_blks_read += d->local_blks_read;
	c->local_blks_dirtied += d->local_blks_dirtied;
	c->local_blks_written += d->local_blks_written;
	c->temp_blks_read += d->temp_blks_read;
	c->temp_blks_written += d->temp_blks_written;
	c->blk_read_time += d->blk_read_time;
	c->blk_write_time += d->blk_write_time;
	c->local_blk_read_time += d->local_blk_read_time;
	c->local_blk_write_time += d->local_blk_write_time;
	c->temp_blk_read_time += d->temp_blk_read_time;
	c->temp_blk_write_time += d->temp_blk_write_time;
	c->wal_records += d->wal_records;
	c->wal_fpi += d->wal_fpi;
	c->wal_bytes += d->wal_bytes;
	c->wal_buffers_full += d->wal_buffers_full;
}

/*
 * Fold one statement's figures into an entry: its planning, its execution
 * or both ("what", PGSM_RECORD_*).  The execution's blocks, WAL and JIT
 * figures are read where the executor keeps them.  Caller holds the lock
 * and the entry's mutex.
 */
static inline void
entry_accumulate(PgsmEntry *e, const PgsmSample *s, int hist_cell, int what)
{
	PgsmCounters *c = &e->counters;

	if (what & PGSM_RECORD_PLAN)
	{
		const PgsmCounters *p = s->planning;

		c->plans++;
		c->total_plan_time += p->total_plan_time;
		add_sample(p->total_plan_time, c->plans, &c->mean_plan_time,
				   &c->sum_var_plan_time, &c->min_plan_time,
				   &c->max_plan_time);
		add_counted_usage(c, p);
	}
	if (what & PGSM_RECORD_EXEC)
	{
		c->calls++;
		c->rows += s->rows;
		c->total_time += s->total_time;
		add_sample(s->total_time, c->calls, &c->mean_time, &c->sum_var_time,
				   &c->min_time, &c->max_time);
		if (hist_cell >= 0)
			e->hist[hist_cell]++;
		c->cpu_user_time += s->cpu_user_time;
		c->cpu_sys_time += s->cpu_sys_time;
		c->parallel_workers_to_launch += s->parallel_workers_to_launch;
		c->parallel_workers_launched += s->parallel_workers_launched;
	}
	if (s->jit != NULL)
	{
		const JitInstrumentation *ji = s->jit;

		c->jit_functions += ji->created_functions;
		c->jit_generation_time += INSTR_TIME_GET_MILLISEC(ji->generation_counter);
		c->jit_inlining_count += !INSTR_TIME_IS_ZERO(ji->inlining_counter);
		c->jit_inlining_time += INSTR_TIME_GET_MILLISEC(ji->inlining_counter);
		c->jit_optimization_count += !INSTR_TIME_IS_ZERO(ji->optimization_counter);
		c->jit_optimization_time += INSTR_TIME_GET_MILLISEC(ji->optimization_counter);
		c->jit_emission_count += !INSTR_TIME_IS_ZERO(ji->emission_counter);
		c->jit_emission_time += INSTR_TIME_GET_MILLISEC(ji->emission_counter);
		c->jit_deform_count += PGSM_JIT_DEFORM_COUNT(ji);
		c->jit_deform_time += PGSM_JIT_DEFORM_TIME(ji);
	}
	if (s->bufusage != NULL)
	{
		const BufferUsage *bu = s->bufusage;

		c->shared_blks_hit += bu->shared_blks_hit;
		c->shared_blks_read += bu->shared_blks_read;
		c->shared_blks_dirtied += bu->shared_blks_dirtied;
		c->shared_blks_written += bu->shared_blks_written;
		c->local_blks_hit += bu->local_blks_hit;
		c->local_blks_read += bu->local_blks_read;
		c->local_blks_dirtied += bu->local_blks_dirtied;
		c->local_blks_written += bu->local_blks_written;
		c->temp_blks_read += bu->temp_blks_read;
		c->temp_blks_written += bu->temp_blks_written;
		c->blk_read_time += INSTR_TIME_GET_MILLISEC(PGSM_BLK_READ_TIME(bu));
		c->blk_write_time += INSTR_TIME_GET_MILLISEC(PGSM_BLK_WRITE_TIME(bu));
		c->local_blk_read_time += PGSM_LOCAL_BLK_READ_TIME(bu);
		c->local_blk_write_time += PGSM_LOCAL_BLK_WRITE_TIME(bu);
		c->temp_blk_read_time += INSTR_TIME_GET_MILLISEC(bu->temp_blk_read_time);
		c->temp_blk_write_time += INSTR_TIME_GET_MILLISEC(bu->temp_blk_write_time);
	}
	if (s->walusage != NULL)
	{
		const WalUsage *wu = s->walusage;

		c->wal_records += wu->wal_records;
		c->wal_fpi += wu->wal_fpi;
		c->wal_bytes += wu->wal_bytes;
		c->wal_buffers_full += PGSM_WAL_BUFFERS_FULL(wu);
	}
}

/*
 * Set up entry number nentries for a key, with its texts, and index it.
 * Caller holds the lock exclusively and has checked that there is room.
 */
static int
entry_init(const PgsmKey *key, uint32 hash, const PgsmTexts *texts,
		   int64 pgsm_query_id, uint8 cmd_type)
{
	int			n;
	PgsmEntry  *e;
	char	   *dst;

	n = pgsm->nentries++;
	e = EntryAt(n);
	MemSet(e, 0, PgsmEntrySize);
	e->key = *key;
	SpinLockInit(&e->mutex);
	e->cmd_type = cmd_type;
	e->bucket_len = pgsm_bucket_length(key->bucket);
	e->pgsm_query_id = pgsm_query_id;
	e->first_seen = GetCurrentTimestamp();
	e->text_offset = (uint32) pgsm->text_used;

	dst = pgsm_texts + pgsm->text_used;
	for (int k = 0; k < PGSM_NUM_TEXTS; k++)
	{
		if (texts->len[k] > 0)
			memcpy(dst, texts->str[k], texts->len[k]);
		e->text_len[k] = texts->len[k];
		dst += texts->len[k];
		pgsm->text_used += texts->len[k];
	}

	index_add(n, hash);
	return n;
}

/*
 * Is there room for an ordinary entry with this much text?  Room for
 * 2 * overflow_slots overflow rows, and their texts, is always kept.
 * Caller holds the lock, or reads without it for a hint.
 */
static inline bool
room_for(Size need)
{
	int			overflow = pgsm->overflow_frozen + pgsm->overflow_live;
	int			ordinary = pgsm->nentries - overflow;
	Size		ordinary_text = pgsm->text_used - overflow * OVERFLOW_TEXT_LEN;
	int			reserve = 2 * pgsm->overflow_slots;

	return ordinary < pgsm->max_entries - reserve &&
		ordinary_text + need <= pgsm->text_size - reserve * OVERFLOW_TEXT_LEN;
}

/*
 * Make a new entry with its texts.  Returns -1 when there is no room.
 * Caller holds the lock exclusively.
 */
static int
entry_create(const PgsmKey *key, uint32 hash, const PgsmTexts *texts,
			 int64 pgsm_query_id, uint8 cmd_type)
{
	Size		need = 0;

	for (int k = 0; k < PGSM_NUM_TEXTS; k++)
		need += texts->len[k];
	if (!room_for(need))
		return -1;
	return entry_init(key, hash, texts, pgsm_query_id, cmd_type);
}

/*
 * The overflow row a statement with this key is added to when the store
 * has no room for its entry: the row of its bucket, database, user and
 * level, or else its bucket's catch-all row, or else the catch-all made
 * last.  Makes the row if need be, from the room kept for it, so it never
 * fails.  Caller holds the lock exclusively.
 */
static int
overflow_entry(const PgsmKey *key)
{
	PgsmKey		okey;
	PgsmTexts	texts;
	uint32		hash;
	int			n;

	MemSet(&texts, 0, sizeof(texts));
	texts.str[PGSM_TEXT_QUERY] = PGSM_OVERFLOW_TEXT;
	texts.len[PGSM_TEXT_QUERY] = OVERFLOW_TEXT_LEN;

	MemSet(&okey, 0, sizeof(okey));
	okey.bucket = key->bucket;
	okey.userid = key->userid;
	okey.dbid = key->dbid;
	okey.toplevel = key->toplevel;
	okey.overflow = true;
	hash = key_hash(&okey);
	n = index_lookup(&okey, hash);
	if (n >= 0)
		return n;
	if (pgsm->overflow_live < pgsm->overflow_slots - pgsm->overflow_catchall)
	{
		pgsm->overflow_live++;
		return entry_init(&okey, hash, &texts, 0, 0);
	}

	/* the bucket's catch-all: any database, any user, both levels */
	okey.userid = InvalidOid;
	okey.dbid = InvalidOid;
	okey.toplevel = true;
	hash = key_hash(&okey);
	n = index_lookup(&okey, hash);
	if (n >= 0)
		return n;
	if (pgsm->overflow_live < pgsm->overflow_slots)
	{
		pgsm->overflow_live++;
		n = entry_init(&okey, hash, &texts, 0, 0);
		pgsm->last_catchall = n;
		return n;
	}

	/* every slot taken, so catch-alls were made: the last one */
	Assert(pgsm->last_catchall >= pgsm->nfrozen &&
		   pgsm->last_catchall < pgsm->nentries);
	return pgsm->last_catchall;
}

static pg_noinline PgsmRecordResult store_record_new(const PgsmKey *key,
													 uint32 hash, bool full,
													 const PgsmSample *sample,
													 int hist_cell, int what,
													 PgsmBuildTexts build_texts,
													 void *arg);

/*
 * Record one statement (its planning, its execution or both, or an error)
 * for a key.
 *
 * The common case, an entry that exists, takes the lock in shared mode and
 * the entry's mutex.  Otherwise build_texts is called with no lock held to
 * produce the entry's texts (normalizing a query is the expensive part),
 * and the entry is made under the exclusive lock.  When the store has no
 * room the statement is added to an overflow row instead (overflow_entry),
 * counted as folded, and the worker is woken.  A store that looks full
 * before the texts are built is not given them: the statement is folded.
 */
PgsmRecordResult
pgsm_store_record(const PgsmKey *key, const PgsmSample *sample,
				  int hist_cell, int what,
				  PgsmBuildTexts build_texts, void *arg)
{
	uint32		hash = key_hash_session_cached(key);
	int			n;
	bool		full;

	LWLockAcquire(&pgsm->lock, LW_SHARED);
	n = index_lookup(key, hash);
	if (n >= 0)
	{
		PgsmEntry  *e = EntryAt(n);

		SpinLockAcquire(&e->mutex);
		entry_accumulate(e, sample, hist_cell, what);
		SpinLockRelease(&e->mutex);
		LWLockRelease(&pgsm->lock);
		return PGSM_RECORDED;
	}
	full = !room_for(0);
	LWLockRelease(&pgsm->lock);
	return store_record_new(key, hash, full, sample, hist_cell, what,
							build_texts, arg);
}

/*
 * One more occurrence of an error or warning whose row exists: calls is the
 * only figure such a row has (its other counters stay zero, as
 * pgsm_store_record() would leave them for an empty sample).  Returns false
 * when there is no row; the error hook then makes it with
 * pgsm_store_record(), which it must set up a memory context and an error
 * trap for.  Takes the lock in shared mode and the entry's mutex.
 */
bool
pgsm_store_count_error(const PgsmKey *key)
{
	uint32		hash = key_hash_session_cached(key);
	int			n;

	Assert(key->elevel != 0 && !key->overflow);
	LWLockAcquire(&pgsm->lock, LW_SHARED);
	n = index_lookup(key, hash);
	if (n >= 0)
	{
		PgsmEntry  *e = EntryAt(n);

		SpinLockAcquire(&e->mutex);
		e->counters.calls++;
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(&pgsm->lock);
	return n >= 0;
}

/*
 * pgsm_store_record() for a key that had no entry: build the texts unless
 * the store looked full, then make the entry under the exclusive lock (or
 * fold the statement into an overflow row).  Apart, so that the common
 * case sets up no room for texts.
 */
static PgsmRecordResult
store_record_new(const PgsmKey *key, uint32 hash, bool full,
				 const PgsmSample *sample, int hist_cell, int what,
				 PgsmBuildTexts build_texts, void *arg)
{
	int			n;
	PgsmEntry  *e;
	PgsmTexts	texts;
	int64		pgsm_query_id = 0;
	uint8		cmd_type = 0;
	bool		high;

	MemSet(&texts, 0, sizeof(texts));
	if (!full)
		build_texts(arg, key, &texts, &pgsm_query_id, &cmd_type);

	LWLockAcquire(&pgsm->lock, LW_EXCLUSIVE);
	n = index_lookup(key, hash);
	if (n < 0 && !full)
		n = entry_create(key, hash, &texts, pgsm_query_id, cmd_type);
	if (n < 0)
	{
		e = EntryAt(overflow_entry(key));
		entry_accumulate(e, sample, hist_cell, what);
		LWLockRelease(&pgsm->lock);
		/* a planning is not a call: its execution is counted on its own */
		if (what & PGSM_RECORD_EXEC)
			pg_atomic_fetch_add_u64(&pgsm->calls_folded, 1);
		pg_atomic_fetch_add_u64(&pgsm->entries_folded, 1);
		wake_worker(FLUSH_WANTED);
		return PGSM_FOLDED;
	}
	e = EntryAt(n);
	entry_accumulate(e, sample, hist_cell, what);
	high = pgsm->nentries >= pgsm->high_entries ||
		pgsm->text_used >= pgsm->high_text;
	LWLockRelease(&pgsm->lock);

	if (high)
		wake_worker(FLUSH_WANTED);
	return PGSM_RECORDED;
}

/*
 * Copy the store's contents, or only the frozen batch, into local memory,
 * for the SQL functions.  Takes the lock in shared mode; each entry is
 * copied under its mutex so that its counters are consistent.
 */
void
pgsm_store_snapshot(PgsmSnapshot *snap, bool frozen_only)
{
	Size		entries_bytes;
	Size		text_bytes;

	LWLockAcquire(&pgsm->lock, LW_SHARED);
	snap->nentries = frozen_only ? pgsm->nfrozen : pgsm->nentries;
	snap->batch_id = pgsm->batch_id;
	entries_bytes = (Size) snap->nentries * PgsmEntrySize;
	text_bytes = frozen_only ? pgsm->frozen_text : pgsm->text_used;
	snap->entries = palloc(Max(entries_bytes, 1));
	snap->texts = palloc(Max(text_bytes, 1));
	snap->exporting = palloc0(Max(snap->nentries, 1) * sizeof(bool));
	for (int i = 0; i < snap->nentries; i++)
	{
		PgsmEntry  *e = EntryAt(i);

		SpinLockAcquire(&e->mutex);
		memcpy(snap->entries + (Size) i * PgsmEntrySize, e, PgsmEntrySize);
		SpinLockRelease(&e->mutex);
		snap->exporting[i] = (i < pgsm->nfrozen);
	}
	memcpy(snap->texts, pgsm_texts, text_bytes);
	LWLockRelease(&pgsm->lock);
}

/*
 * Slide the entries to keep, and their texts, to the front; drop the rest.
 * An entry is kept when its number is at least keep_from and its bucket at
 * least min_bucket.  Frozen entries that are kept stay frozen, at the front.
 * Caller holds the lock exclusively.
 */
static void
store_compact(int keep_from, int64 min_bucket)
{
	int			out = 0;
	int			frozen_kept = 0;
	Size		text_out = 0;
	Size		frozen_text_kept = 0;

	for (int i = 0; i < pgsm->nentries; i++)
	{
		PgsmEntry  *e = EntryAt(i);
		Size		len = 0;

		if (i < keep_from || e->key.bucket < min_bucket)
			continue;

		for (int k = 0; k < PGSM_NUM_TEXTS; k++)
			len += e->text_len[k];
		if (text_out != e->text_offset)
			memmove(pgsm_texts + text_out, pgsm_texts + e->text_offset, len);
		e->text_offset = (uint32) text_out;
		text_out += len;

		if (out != i)
			memmove(EntryAt(out), e, PgsmEntrySize);
		out++;

		if (i < pgsm->nfrozen)
		{
			frozen_kept++;
			frozen_text_kept = text_out;
		}
	}

	pgsm->nentries = out;
	pgsm->text_used = text_out;
	pgsm->nfrozen = frozen_kept;
	pgsm->frozen_text = frozen_text_kept;
	if (frozen_kept == 0)
		pgsm->batch_id = 0;
	index_rebuild();
	overflow_recount();
}

/*
 * Count the overflow rows of each part of the store, and find the live
 * catch-all made last.  Caller holds the lock exclusively.
 */
static void
overflow_recount(void)
{
	pgsm->overflow_frozen = 0;
	pgsm->overflow_live = 0;
	pgsm->last_catchall = -1;
	for (int i = 0; i < pgsm->nentries; i++)
	{
		const PgsmKey *k = &EntryAt(i)->key;

		if (!k->overflow)
			continue;
		if (i < pgsm->nfrozen)
			pgsm->overflow_frozen++;
		else
		{
			pgsm->overflow_live++;
			if (k->dbid == InvalidOid && k->userid == InvalidOid)
				pgsm->last_catchall = i;
		}
	}
}

/*
 * Discard everything not being exported, for pg_stat_monitor_reset().
 */
void
pgsm_store_reset(void)
{
	LWLockAcquire(&pgsm->lock, LW_EXCLUSIVE);
	pgsm->nentries = pgsm->nfrozen;
	pgsm->text_used = pgsm->frozen_text;
	index_rebuild();
	overflow_recount();
	LWLockRelease(&pgsm->lock);

	pg_atomic_write_u64(&pgsm->calls_folded, 0);
	pg_atomic_write_u64(&pgsm->entries_folded, 0);
	SpinLockAcquire(&pgsm->mutex);
	pgsm->reset_time = GetCurrentTimestamp();
	pgsm->calls_lost = 0;
	SpinLockRelease(&pgsm->mutex);
}

/*
 * Rotation without export: forget buckets older than the given one, as
 * pg_stat_monitor does when it reuses a bucket.
 */
void
pgsm_store_discard_buckets_before(int64 bucket)
{
	bool		any = false;

	LWLockAcquire(&pgsm->lock, LW_SHARED);
	for (int i = 0; i < pgsm->nentries && !any; i++)
		any = EntryAt(i)->key.bucket < bucket;
	LWLockRelease(&pgsm->lock);
	if (!any)
		return;

	LWLockAcquire(&pgsm->lock, LW_EXCLUSIVE);
	store_compact(0, bucket);
	LWLockRelease(&pgsm->lock);
}

/*
 * Move the early-flush mark to follow how fast the store fills.  Every
 * entry in the store when a batch is frozen came since the last freeze,
 * so entries (folded ones too) and text bytes over that time give the
 * rate.  The mark is set so that, at that rate, the room left above it
 * lasts twice the last export's time, plus a tenth of a second, but never
 * above a quarter of the store: a store that fills fast is exported
 * earlier, in smaller batches, before it is full.  A rate falls only by half
 * from one batch to the next, so a lull does not undo a flood at once.
 * Caller holds the lock exclusively, with no batch frozen.
 */
static void
adapt_high_water(double export_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	uint64		folded = pg_atomic_read_u64(&pgsm->entries_folded);
	int			reserve = 2 * pgsm->overflow_slots;
	double		cap = pgsm->max_entries - reserve;
	double		tcap = pgsm->text_size - reserve * OVERFLOW_TEXT_LEN;

	if (pgsm->last_freeze != 0 && now > pgsm->last_freeze)
	{
		double		secs = (now - pgsm->last_freeze) / 1000000.0;
		double		entries = pgsm->nentries - pgsm->overflow_live +
			(double) (folded - pgsm->last_folded);
		double		margin = 2.0 * export_ms / 1000.0 + 0.1;
		double		f;

		pgsm->entry_rate = Max(entries / secs, pgsm->entry_rate / 2);
		pgsm->text_rate = Max(pgsm->text_used / secs, pgsm->text_rate / 2);

		f = 1.0 - margin * pgsm->entry_rate / cap;
		f = Min(Max(f, PGSM_HIGH_WATER_MIN), PGSM_HIGH_WATER);
		pgsm->high_entries = (int) (cap * f);
		f = 1.0 - margin * pgsm->text_rate / tcap;
		f = Min(Max(f, PGSM_HIGH_WATER_MIN), PGSM_HIGH_WATER);
		pgsm->high_text = (Size) (tcap * f);
	}
	pgsm->last_freeze = now;
	pgsm->last_folded = folded;
}

/*
 * Freeze everything in the store as a batch for export, or find the batch
 * that is already frozen (left by a worker that died, or by the last
 * server run).  Returns its id, or 0 when there is nothing to export.  The
 * batch's entries stay in the store, untouched by backends, until
 * pgsm_store_release_batch().  Only the worker calls these.
 */
uint64
pgsm_store_freeze(void)
{
	uint64		id;
	double		export_ms;

	SpinLockAcquire(&pgsm->mutex);
	export_ms = pgsm->worker.last_export_ms;
	SpinLockRelease(&pgsm->mutex);

	LWLockAcquire(&pgsm->lock, LW_EXCLUSIVE);
	if (pgsm->nfrozen == 0 && pgsm->nentries > 0)
	{
		adapt_high_water(export_ms);
		id = (uint64) GetCurrentTimestamp();

		/* batch ids only grow, even if the clock steps back */
		if (id <= pgsm->last_batch_id)
			id = pgsm->last_batch_id + 1;
		pgsm->last_batch_id = id;
		pgsm->batch_id = id;
		pgsm->nfrozen = pgsm->nentries;
		pgsm->frozen_text = pgsm->text_used;
		pgsm->overflow_frozen = pgsm->overflow_live;
		pgsm->overflow_live = 0;
		pgsm->last_catchall = -1;
		MemSet(pgsm_index, 0, (pgsm->index_mask + 1) * sizeof(int32));
	}
	(void) pg_atomic_fetch_and_u32(&pgsm->flush_wanted, ~FLUSH_WANTED);
	id = pgsm->batch_id;
	LWLockRelease(&pgsm->lock);

	return id;
}

/*
 * The distinct buckets of the frozen batch, palloc'd, in the order they
 * first appear, and in *entries how many entries each has; *n is set to how
 * many buckets.  Entries come mostly in bucket order, so only a change of
 * bucket costs a look through what was found.
 */
int64 *
pgsm_store_batch_buckets(int *n, int **entries)
{
	int64	   *buckets;
	int		   *counts;
	int			last = -1;

	LWLockAcquire(&pgsm->lock, LW_SHARED);
	buckets = palloc(sizeof(int64) * Max(pgsm->nfrozen, 1));
	counts = palloc0(sizeof(int) * Max(pgsm->nfrozen, 1));
	*n = 0;
	for (int i = 0; i < pgsm->nfrozen; i++)
	{
		int64		b = EntryAt(i)->key.bucket;

		if (last < 0 || buckets[last] != b)
		{
			last = -1;
			for (int k = 0; k < *n && last < 0; k++)
				if (buckets[k] == b)
					last = k;
			if (last < 0)
			{
				last = (*n)++;
				buckets[last] = b;
			}
		}
		counts[last]++;
	}
	LWLockRelease(&pgsm->lock);
	*entries = counts;
	return buckets;
}

/*
 * The batch is safely written (or known to have been): drop it from the
 * store and slide what came after it to the front.
 */
void
pgsm_store_release_batch(uint64 batch_id)
{
	LWLockAcquire(&pgsm->lock, LW_EXCLUSIVE);
	if (pgsm->batch_id == batch_id && batch_id != 0)
		store_compact(pgsm->nfrozen, PG_INT64_MIN);
	LWLockRelease(&pgsm->lock);
}

/*
 * Is the store to be emptied early?  True when a backend asked, while a
 * frozen batch waits for a worker, and while the store is past its
 * high-water mark: after one batch, or a failed export, another is due.
 */
bool
pgsm_store_flush_wanted(void)
{
	bool		wanted;

	if (pg_atomic_read_u32(&pgsm->flush_wanted) != 0)
		return true;
	LWLockAcquire(&pgsm->lock, LW_SHARED);
	wanted = pgsm->nfrozen > 0 || pgsm->nentries >= pgsm->high_entries ||
		pgsm->text_used >= pgsm->high_text;
	LWLockRelease(&pgsm->lock);
	return wanted;
}

/*
 * Ask the worker to export now, as a full store does, and to bring the
 * totals of pg_stat_monitor_statements up to date.
 */
void
pgsm_store_request_flush(void)
{
	wake_worker(FLUSH_WANTED | TOTALS_WANTED);
}

/* Whether the totals were asked for since the last call (the worker's) */
bool
pgsm_store_totals_wanted(void)
{
	return (pg_atomic_fetch_and_u32(&pgsm->flush_wanted, ~TOTALS_WANTED) &
			TOTALS_WANTED) != 0;
}

/*
 * Map every page of the store into the calling process, reading a byte of
 * each, and return the store's size.  A process meets each page of shared
 * memory it has not touched yet with a page fault; the worker calls this
 * when it starts, so that its first export does not take them while it
 * holds the store's lock exclusively: a freeze clears the whole index, 256
 * pages in a store of 99 MB.
 */
Size
pgsm_store_touch(void)
{
	const volatile char *p = (const volatile char *) pgsm;
	Size		size = pgsm_memsize();

	for (Size off = 0; off < size; off += 4096)
		(void) p[off];
	return size;
}

/* The worker tells backends where to signal it; NULL when it leaves. */
void
pgsm_store_set_worker_latch(Latch *latch)
{
	SpinLockAcquire(&pgsm->mutex);
	pgsm->worker_latch = latch;
	SpinLockRelease(&pgsm->mutex);
}

/* Read or update the worker's statistics under the header's mutex. */
void
pgsm_store_worker_stats(PgsmWorkerStats *out, const PgsmWorkerStats *in)
{
	SpinLockAcquire(&pgsm->mutex);
	if (in)
		pgsm->worker = *in;
	if (out)
		*out = pgsm->worker;
	SpinLockRelease(&pgsm->mutex);
}

void
pgsm_store_info(PgsmStoreInfo *info)
{
	LWLockAcquire(&pgsm->lock, LW_SHARED);
	info->size = pgsm_memsize();
	info->max_entries = pgsm->max_entries;
	info->entries = pgsm->nentries;
	info->text_size = pgsm->text_size;
	info->text_used = pgsm->text_used;
	LWLockRelease(&pgsm->lock);

	info->calls_folded = pg_atomic_read_u64(&pgsm->calls_folded);
	info->entries_folded = pg_atomic_read_u64(&pgsm->entries_folded);
	SpinLockAcquire(&pgsm->mutex);
	info->reset_time = pgsm->reset_time;
	info->calls_lost = pgsm->calls_lost;
	SpinLockRelease(&pgsm->mutex);
}

/*
 * File saved at shutdown: a header, then the entries and the text area as
 * they are in memory.  Entries are only meaningful to a library with the
 * same entry layout, which the header records.  Each entry carries its
 * bucket's start and length, so a start with another pgsm_bucket_time
 * files it under the time it was collected.
 */
typedef struct PgsmDumpHeader
{
	uint32		magic;
	uint32		entry_size;
	int32		hist_cells;
	int32		nentries;
	int32		nfrozen;
	uint64		batch_id;
	uint64		text_used;
	uint64		frozen_text;
} PgsmDumpHeader;

/*
 * Save the store at a clean shutdown of the postmaster.  Runs after every
 * other process has exited, so no lock is needed.
 */
static void
pgsm_store_dump(int code, Datum arg)
{
	PgsmDumpHeader hdr;
	FILE	   *file;

	if (code != 0 || pgsm == NULL || pgsm->nentries == 0)
		return;

	hdr.magic = PGSM_DUMP_MAGIC;
	hdr.entry_size = (uint32) PgsmEntrySize;
	hdr.hist_cells = pgsm_hist_cells;
	hdr.nentries = pgsm->nentries;
	hdr.nfrozen = pgsm->nfrozen;
	hdr.batch_id = pgsm->batch_id;
	hdr.text_used = pgsm->text_used;
	hdr.frozen_text = pgsm->frozen_text;

	file = AllocateFile(PGSM_DUMP_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;
	if (fwrite(&hdr, sizeof(hdr), 1, file) != 1 ||
		fwrite(pgsm_entries, PgsmEntrySize, hdr.nentries, file) !=
		(size_t) hdr.nentries ||
		(hdr.text_used > 0 &&
		 fwrite(pgsm_texts, hdr.text_used, 1, file) != 1))
		goto error;
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(PGSM_DUMP_FILE ".tmp", PGSM_DUMP_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", PGSM_DUMP_FILE ".tmp"),
			 errdetail("Statistics not yet exported by pg_stat_monitor are lost.")));
	if (file)
		FreeFile(file);
	unlink(PGSM_DUMP_FILE ".tmp");
}

/* Sum of calls of the entries from number "from" on, for loss accounting. */
static uint64
calls_in(const char *entries, Size entry_size, int from, int nentries)
{
	uint64		calls = 0;

	for (int i = from; i < nentries; i++)
		calls += ((const PgsmEntry *) (entries + (Size) i * entry_size))->counters.calls;
	return calls;
}

/*
 * Read back what the last clean shutdown saved.  Runs in the postmaster at
 * start, before any other process.  The file is removed once read, so that
 * a crash cannot bring the same figures back twice.  What does not fit the
 * store any more (pgsm_max was lowered, the histogram changed) is counted as
 * lost.
 */
static void
pgsm_store_load(void)
{
	PgsmDumpHeader hdr;
	FILE	   *file;
	char	   *entries = NULL;
	char	   *texts = NULL;
	int			keep = 0;
	Size		keep_text = 0;

	file = AllocateFile(PGSM_DUMP_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", PGSM_DUMP_FILE)));
		return;
	}

	if (fread(&hdr, sizeof(hdr), 1, file) != 1 ||
		hdr.magic != PGSM_DUMP_MAGIC || hdr.nentries < 0 ||
		hdr.nfrozen < 0 || hdr.nfrozen > hdr.nentries ||
		hdr.entry_size < offsetof(PgsmEntry, hist) ||
		hdr.entry_size > 64 * 1024)
		goto bad;

	entries = palloc((Size) hdr.entry_size * Max(hdr.nentries, 1));
	texts = palloc(Max(hdr.text_used, 1));
	if (fread(entries, hdr.entry_size, hdr.nentries, file) !=
		(size_t) hdr.nentries ||
		(hdr.text_used > 0 && fread(texts, hdr.text_used, 1, file) != 1))
		goto bad;
	FreeFile(file);
	file = NULL;
	unlink(PGSM_DUMP_FILE);

	if (hdr.entry_size != PgsmEntrySize || hdr.hist_cells != pgsm_hist_cells)
	{
		/* The layout changed: the figures cannot be read back. */
	}
	else
	{
		int			reserve = 2 * pgsm->overflow_slots;
		int			ordinary = 0;
		int			overflow[2] = {0, 0};
		Size		overflow_text = 0;

		/*
		 * Keep what fits as the store would have let it in: ordinary
		 * entries within their share, overflow rows within each part's
		 * slots, so that the room kept for overflow rows is there.
		 */
		while (keep < hdr.nentries)
		{
			PgsmEntry  *e = (PgsmEntry *) (entries + (Size) keep * PgsmEntrySize);
			Size		end = e->text_offset;
			Size		len = 0;

			for (int k = 0; k < PGSM_NUM_TEXTS; k++)
				len += e->text_len[k];
			end += len;
			if (end > pgsm->text_size || end > hdr.text_used)
				break;
			if (e->key.overflow)
			{
				int			part = keep < hdr.nfrozen ? 0 : 1;

				if (overflow[part] >= pgsm->overflow_slots ||
					len != OVERFLOW_TEXT_LEN)
					break;
				overflow[part]++;
				overflow_text += len;
			}
			else
			{
				if (ordinary >= pgsm->max_entries - reserve ||
					end - overflow_text >
					pgsm->text_size - reserve * OVERFLOW_TEXT_LEN)
					break;
				ordinary++;
			}
			keep_text = end;
			keep++;
		}
		memcpy(pgsm_entries, entries, (Size) keep * PgsmEntrySize);
		memcpy(pgsm_texts, texts, keep_text);
		pgsm->nentries = keep;
		pgsm->text_used = keep_text;
		pgsm->nfrozen = Min(hdr.nfrozen, keep);
		pgsm->frozen_text = 0;
		if (pgsm->nfrozen > 0)
		{
			PgsmEntry  *last = EntryAt(pgsm->nfrozen - 1);

			pgsm->frozen_text = last->text_offset;
			for (int k = 0; k < PGSM_NUM_TEXTS; k++)
				pgsm->frozen_text += last->text_len[k];
		}
		pgsm->batch_id = pgsm->nfrozen > 0 ? hdr.batch_id : 0;
		pgsm->last_batch_id = hdr.batch_id;
		for (int i = 0; i < keep; i++)
			SpinLockInit(&EntryAt(i)->mutex);
		index_rebuild();
		overflow_recount();
	}

	if (keep < hdr.nentries)
	{
		uint64		lost = calls_in(entries, hdr.entry_size, keep,
									hdr.nentries);

		pgsm->calls_lost += lost;
		ereport(LOG,
				(errmsg("pg_stat_monitor could not restore %d of %d saved entries",
						hdr.nentries - keep, hdr.nentries),
				 errdetail("The store is smaller than when the entries were saved, or its layout changed."),
				 errhint("Raise \"pg_stat_monitor.pgsm_max\" to keep more across restarts.")));
	}
	pfree(entries);
	pfree(texts);
	return;

bad:
	ereport(LOG,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("ignoring invalid file \"%s\"", PGSM_DUMP_FILE)));
	if (file)
		FreeFile(file);
	unlink(PGSM_DUMP_FILE);
}
