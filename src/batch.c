/*-------------------------------------------------------------------------
 *
 * batch.c
 *		A frozen batch as history rows: the shape of pg_stat_monitor_entries
 *		and the encoding every destination reads.
 *
 * The exporter (export.c) writes a batch through one path whatever the
 * destination: it opens the batch here, stores the texts the batch brings
 * that the destination may not have yet, and streams the rows in COPY
 * BINARY format, which a local destination feeds to COPY FROM through a
 * data-source callback and a remote one could send as it is.  No SQL is
 * built or parsed per row, and histograms go as int8 arrays.
 *
 * history_columns[] and encode_row() are the one place that knows the
 * columns of pg_stat_monitor_entries and their order.
 *
 * Texts are identified by a 64-bit hash of their bytes.  The worker keeps
 * the ids it has stored, with when it last sent each, so that a text goes
 * to the destination once, and again only when it is an hour old (its
 * last_used upkeep).  The memory is forgotten after a failed write and
 * whenever partitions are maintained, since texts may have gone then.
 *
 * Locking: a batch is a copy of the store's frozen entries, taken under the
 * store's lock in shared mode (pgsm_store_snapshot); nothing here holds a
 * lock afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "pgsm.h"

/*
 * The columns of pg_stat_monitor_entries (pg_stat_monitor_data before
 * version 2.4) the exporter fills, in the order
 * encode_row() writes them.  exported_at takes its default.
 */
static const char *const history_columns[] = {
	"bucket", "bucket_start_time", "userid", "username", "dbid", "datname",
	"client_ip", "pgsm_query_id", "queryid", "toplevel", "top_queryid",
	"query_text_id", "comments", "planid", "plan_text_id",
	"top_query_text_id", "application_name", "relations", "cmd_type",
	"elevel", "sqlcode", "message", "calls", "total_exec_time",
	"min_exec_time", "max_exec_time", "sum_var_exec_time", "rows",
	"shared_blks_hit", "shared_blks_read", "shared_blks_dirtied",
	"shared_blks_written", "local_blks_hit", "local_blks_read",
	"local_blks_dirtied", "local_blks_written", "temp_blks_read",
	"temp_blks_written", "blk_read_time", "blk_write_time",
	"temp_blk_read_time", "temp_blk_write_time", "cpu_user_time",
	"cpu_sys_time", "wal_records", "wal_fpi", "wal_bytes", "plans",
	"total_plan_time", "min_plan_time", "max_plan_time",
	"sum_var_plan_time", "jit_functions", "jit_generation_time",
	"jit_inlining_count", "jit_inlining_time", "jit_optimization_count",
	"jit_optimization_time", "jit_emission_count", "jit_emission_time",
	"resp_calls", "batch_id",
	/* from version 2.4 on: counters of PostgreSQL 17 and 18 */
	"local_blk_read_time", "local_blk_write_time", "jit_deform_count",
	"jit_deform_time", "stats_since", "wal_buffers_full",
	"parallel_workers_to_launch", "parallel_workers_launched",
	/* the server the row came from */
	"server_name"
};

#define HISTORY_NCOLS		lengthof(history_columns)
#define HISTORY_NCOLS_2_3	(HISTORY_NCOLS - 9)

/* A text is sent again once this old, for its last_used upkeep */
#define TEXT_RESEND_MS	(3600 * 1000)

/* Encode this many bytes of rows ahead of the reader */
#define ENCODE_AHEAD	(64 * 1024)

typedef struct SentText
{
	int64		text_id;
	TimestampTz sent_at;
} SentText;

static HTAB *sent_texts = NULL;

struct PgsmBatch
{
	uint64		batch_id;
	PgsmSnapshot snap;
	int			next;			/* next entry to encode */
	bool		trailer_done;
	bool		v2_4;			/* the table of version 2.4 or later */
	const char *server_name;	/* every row's server_name */
	StringInfoData buf;			/* encoded, not yet read */
	int			buf_pos;
	/* texts to store */
	int			ntexts;
	Datum	   *text_ids;
	Datum	   *texts;
	/* names of the last user and database seen, kept in the batch's context */
	MemoryContext cxt;
	Oid			last_userid;
	char	   *last_username;
	Oid			last_dbid;
	char	   *last_datname;
};

/* The columns of history a batch fills, as a list of names. */
List *
pgsm_history_column_names(PgsmBatch *b)
{
	List	   *names = NIL;

	for (int i = 0; i < pgsm_history_ncols(b); i++)
		names = lappend(names, makeString(pstrdup(history_columns[i])));
	return names;
}

/* How many columns of history a batch fills */
int
pgsm_history_ncols(PgsmBatch *b)
{
	return b->v2_4 ? HISTORY_NCOLS : HISTORY_NCOLS_2_3;
}

/* The place of column "name" among those a batch fills, or -1 */
int
pgsm_history_column(PgsmBatch *b, const char *name)
{
	for (int i = 0; i < pgsm_history_ncols(b); i++)
		if (strcmp(history_columns[i], name) == 0)
			return i;
	return -1;
}

/* The ids of texts stored already are forgotten: they may have gone. */
void
pgsm_batch_forget_texts(void)
{
	if (sent_texts)
		hash_destroy(sent_texts);
	sent_texts = NULL;
}

static inline int64
text_id(const char *s, uint32 len)
{
	return (int64) hash_bytes_extended((const unsigned char *) s, len, 0);
}

/* Note a text of the batch, to be stored unless sent lately. */
static void
batch_text(PgsmBatch *b, const char *s, uint32 len, TimestampTz now)
{
	int64		id;
	SentText   *st;
	bool		found;

	if (len == 0)
		return;
	id = text_id(s, len);
	st = hash_search(sent_texts, &id, HASH_ENTER, &found);
	if (found && !TimestampDifferenceExceeds(st->sent_at, now, TEXT_RESEND_MS))
		return;
	st->sent_at = now;
	b->text_ids[b->ntexts] = Int64GetDatum(id);
	b->texts[b->ntexts] = PointerGetDatum(cstring_to_text_with_len(s, len));
	b->ntexts++;
}

/*
 * Open the frozen batch: a copy of its entries, and the texts it brings
 * that were not sent lately, in the current memory context (the batch's
 * own, which it keeps what it allocates later in).  Fails if the batch is
 * not the one frozen.
 */
PgsmBatch *
pgsm_batch_open(uint64 batch_id, bool v2_4)
{
	PgsmBatch  *b = palloc0(sizeof(PgsmBatch));
	TimestampTz now = GetCurrentTimestamp();

	pgsm_store_snapshot(&b->snap, true);
	if (b->snap.batch_id != batch_id)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("batch " UINT64_FORMAT " is not being exported", batch_id)));
	b->batch_id = batch_id;
	b->cxt = CurrentMemoryContext;
	b->v2_4 = v2_4;
	b->server_name = pstrdup(pgsm_effective_server_name());
	initStringInfo(&b->buf);

	if (sent_texts == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(SentText);
		ctl.hcxt = TopMemoryContext;
		sent_texts = hash_create("pg_stat_monitor texts sent", 4096, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	b->text_ids = palloc(sizeof(Datum) * 3 * Max(b->snap.nentries, 1));
	b->texts = palloc(sizeof(Datum) * 3 * Max(b->snap.nentries, 1));
	for (int n = 0; n < b->snap.nentries; n++)
	{
		PgsmEntry  *e = PgsmSnapshotEntry(&b->snap, n);
		const char *t = b->snap.texts + e->text_offset;

		for (int kind = 0; kind < PGSM_NUM_TEXTS; kind++)
		{
			if (kind == PGSM_TEXT_QUERY || kind == PGSM_TEXT_TOP_QUERY ||
				kind == PGSM_TEXT_PLAN)
				batch_text(b, t, e->text_len[kind], now);
			t += e->text_len[kind];
		}
	}
	pgsm_batch_rewind(b);
	return b;
}

/*
 * Free what only writing the batch needed (its new texts, its encoded
 * rows), keeping its entries and their texts.
 */
void
pgsm_batch_trim(PgsmBatch *b)
{
	for (int i = 0; i < b->ntexts; i++)
		pfree(DatumGetPointer(b->texts[i]));
	pfree(b->texts);
	pfree(b->text_ids);
	b->texts = b->text_ids = NULL;
	b->ntexts = 0;
	pfree(b->buf.data);
	initStringInfo(&b->buf);
}

uint64
pgsm_batch_id(PgsmBatch *b)
{
	return b->batch_id;
}

/* The name of the server the batch's rows are filed under */
const char *
pgsm_batch_server_name(PgsmBatch *b)
{
	return b->server_name;
}

/* The batch's copy of the store's frozen entries */
PgsmSnapshot *
pgsm_batch_snapshot(PgsmBatch *b)
{
	return &b->snap;
}

int
pgsm_batch_entries(PgsmBatch *b)
{
	return b->snap.nentries;
}

/* The texts to store: ids (int8) and texts, *n of each. */
void
pgsm_batch_new_texts(PgsmBatch *b, Datum **ids, Datum **texts, int *n)
{
	*ids = b->text_ids;
	*texts = b->texts;
	*n = b->ntexts;
}

/*
 * Where encode_row() puts a row: in COPY BINARY format into a buffer (the
 * stream every destination can read), or as the datums of a tuple in
 * history_columns[] order (the local destination's own insert, and the
 * totals' feed), allocated in the current memory context.
 */
typedef struct RowOut
{
	StringInfo	buf;			/* COPY BINARY, or NULL for datums */
	Datum	   *values;
	bool	   *nulls;
	int			col;			/* the next column, for datums */
	const bool *wanted;			/* the columns to make, NULL for all */
} RowOut;

/*
 * COPY BINARY fields.  Each is a 32-bit length (-1 for NULL) and the
 * value in the type's binary format, in network byte order.
 */
static inline void
put16(StringInfo s, int16 v)
{
	uint16		n = pg_hton16((uint16) v);

	appendBinaryStringInfoNT(s, (const char *) &n, 2);
}

static inline void
put32(StringInfo s, int32 v)
{
	uint32		n = pg_hton32((uint32) v);

	appendBinaryStringInfoNT(s, (const char *) &n, 4);
}

static inline void
put64(StringInfo s, int64 v)
{
	uint64		n = pg_hton64((uint64) v);

	appendBinaryStringInfoNT(s, (const char *) &n, 8);
}

/*
 * A column the caller does not want, as NULL: the fields that cost
 * something to make (texts, arrays, numerics) ask first.
 */
static inline bool
f_unwanted(RowOut *o)
{
	if (o->buf || o->wanted == NULL || o->wanted[o->col])
		return false;
	o->nulls[o->col++] = true;
	return true;
}

static inline void
f_datum(RowOut *o, Datum v)
{
	o->nulls[o->col] = false;
	o->values[o->col++] = v;
}

static inline void
f_null(RowOut *o)
{
	if (o->buf)
		put32(o->buf, -1);
	else
		o->nulls[o->col++] = true;
}

/* int8, and timestamptz (microseconds since 2000) */
static inline void
f_int8(RowOut *o, int64 v)
{
	if (o->buf)
	{
		put32(o->buf, 8);
		put64(o->buf, v);
	}
	else
		f_datum(o, Int64GetDatum(v));
}

static inline void
f_int8_or_null(RowOut *o, int64 v)
{
	if (v == 0)
		f_null(o);
	else
		f_int8(o, v);
}

static inline void
f_int4(RowOut *o, int32 v)
{
	if (o->buf)
	{
		put32(o->buf, 4);
		put32(o->buf, v);
	}
	else
		f_datum(o, Int32GetDatum(v));
}

/* oid: an int4 in COPY BINARY, but a datum of its own */
static inline void
f_oid(RowOut *o, Oid v)
{
	if (o->buf)
		f_int4(o, (int32) v);
	else
		f_datum(o, ObjectIdGetDatum(v));
}

static inline void
f_float8(RowOut *o, double v)
{
	union
	{
		double		d;
		int64		i;
	}			u;

	if (!o->buf)
	{
		f_datum(o, Float8GetDatum(v));
		return;
	}
	u.d = v;
	f_int8(o, u.i);
}

static inline void
f_bool(RowOut *o, bool v)
{
	if (!o->buf)
	{
		f_datum(o, BoolGetDatum(v));
		return;
	}
	put32(o->buf, 1);
	appendStringInfoCharMacro(o->buf, v ? 1 : 0);
}

/*
 * Text as the database's encoding wants it: a byte that is not part of a
 * valid character (a text from a database of another encoding) becomes '?'
 * rather than failing the batch.
 */
static Datum
valid_text(const char *p, int len)
{
	int			enc = GetDatabaseEncoding();
	StringInfoData s;
	Datum		d;

	if (pg_verify_mbstr(enc, p, len, true))
		return PointerGetDatum(cstring_to_text_with_len(p, len));
	initStringInfo(&s);
	while (len > 0)
	{
		int			l = pg_encoding_verifymbchar(enc, p, len);

		if (l <= 0)
		{
			appendStringInfoCharMacro(&s, '?');
			l = 1;
		}
		else
			appendBinaryStringInfoNT(&s, p, l);
		p += l;
		len -= l;
	}
	d = PointerGetDatum(cstring_to_text_with_len(s.data, s.len));
	pfree(s.data);
	return d;
}

static void
f_text(RowOut *o, const char *p, int len)
{
	if (f_unwanted(o))
		return;
	if (!o->buf)
	{
		f_datum(o, valid_text(p, len));
		return;
	}
	put32(o->buf, len);
	if (pg_verify_mbstr(GetDatabaseEncoding(), p, len, true))
		appendBinaryStringInfoNT(o->buf, p, len);
	else
	{
		text	   *t = DatumGetTextPP(valid_text(p, len));

		/* a '?' for each bad byte: the length is the same */
		Assert(VARSIZE_ANY_EXHDR(t) == len);
		appendBinaryStringInfoNT(o->buf, VARDATA_ANY(t), len);
		pfree(t);
	}
}

static inline void
f_text_or_null(RowOut *o, const char *p, int len)
{
	if (len == 0)
		f_null(o);
	else
		f_text(o, p, len);
}

static void
f_name_or_null(RowOut *o, const char *name)
{
	if (name)
		f_text(o, name, strlen(name));
	else
		f_null(o);
}

/* inet: family, bits, is_cidr, length, address */
static void
f_inet(RowOut *o, const PgsmKey *k)
{
	int			nb = k->addr_family == 4 ? 4 : 16;
	char		head[4];

	if (f_unwanted(o))
		return;
	if (!o->buf)
	{
		inet	   *ip = palloc0(sizeof(inet));

		ip_family(ip) = k->addr_family == 4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
		ip_bits(ip) = nb * 8;
		memcpy(ip_addr(ip), k->addr, nb);
		SET_INET_VARSIZE(ip);
		f_datum(o, InetPGetDatum(ip));
		return;
	}
	put32(o->buf, 4 + nb);
	head[0] = (char) (k->addr_family == 4 ? PGSQL_AF_INET : PGSQL_AF_INET6);
	head[1] = (char) (nb * 8);
	head[2] = 0;				/* not cidr */
	head[3] = (char) nb;
	appendBinaryStringInfoNT(o->buf, head, 4);
	appendBinaryStringInfoNT(o->buf, (const char *) k->addr, nb);
}

/* numeric from an unsigned integer: base-10000 digits, most significant first */
static void
f_numeric_u64(RowOut *o, uint64 v)
{
	int16		digits[5];
	int			n = 0;
	int			weight;
	StringInfo	s = o->buf;

	if (f_unwanted(o))
		return;
	if (!s && v <= PG_INT64_MAX)
	{
		f_datum(o, NumericGetDatum(int64_to_numeric((int64) v)));
		return;
	}
	if (!s)
	{
		char		str[24];

		snprintf(str, sizeof(str), UINT64_FORMAT, v);
		f_datum(o, DirectFunctionCall3(numeric_in, CStringGetDatum(str),
									   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		return;
	}
	while (v > 0)
	{
		digits[n++] = (int16) (v % 10000);
		v /= 10000;
	}
	weight = n - 1;
	/* trailing zero digits are left out, as numeric keeps them */
	while (n > 0 && digits[0] == 0)
	{
		memmove(digits, digits + 1, sizeof(int16) * (n - 1));
		n--;
	}
	put32(s, 8 + 2 * n);
	put16(s, (int16) n);
	put16(s, (int16) (n > 0 ? weight : 0));
	put16(s, 0);				/* positive */
	put16(s, 0);				/* no decimals */
	for (int i = n - 1; i >= 0; i--)
		put16(s, digits[i]);
}

/* one-dimensional array header */
static void
array_header(StringInfo s, Oid elemtype, int nelems)
{
	put32(s, 1);				/* dimensions */
	put32(s, 0);				/* no NULLs */
	put32(s, (int32) elemtype);
	put32(s, nelems);
	put32(s, 1);				/* lower bound */
}

/* text[] from a comma-separated list */
static void
f_text_list(RowOut *o, const char *p, int len)
{
	StringInfo	s = o->buf;
	int			lenpos = 0;
	int			n = 1;
	int			start = 0;
	Datum	   *elems = NULL;
	int			nelems = 0;

	if (f_unwanted(o))
		return;
	for (int i = 0; i < len; i++)
		n += p[i] == ',';
	if (s)
	{
		lenpos = s->len;
		put32(s, 0);			/* the length, set below */
		array_header(s, TEXTOID, n);
	}
	else
		elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i <= len; i++)
		if (i == len || p[i] == ',')
		{
			if (s)
				f_text(o, p + start, i - start);
			else
				elems[nelems++] = valid_text(p + start, i - start);
			start = i + 1;
		}
	if (!s)
	{
		f_datum(o, PointerGetDatum(construct_array(elems, nelems, TEXTOID,
												   -1, false, TYPALIGN_INT)));
		return;
	}
	{
		uint32		total = pg_hton32((uint32) (s->len - lenpos - 4));

		memcpy(s->data + lenpos, &total, 4);
	}
}

static void
f_histogram(RowOut *o, const int32 *hist, int n)
{
	if (f_unwanted(o))
		return;
	if (!o->buf)
	{
		Datum	   *cells = palloc(sizeof(Datum) * n);

		for (int i = 0; i < n; i++)
			cells[i] = Int64GetDatum(hist[i]);
		f_datum(o, PointerGetDatum(construct_array(cells, n, INT8OID, sizeof(int64),
												   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)));
		return;
	}
	put32(o->buf, 20 + 12 * n);
	array_header(o->buf, INT8OID, n);
	for (int i = 0; i < n; i++)
		f_int8(o, hist[i]);
}

static void
names_of(PgsmBatch *b, const PgsmKey *k, const char **user, const char **db)
{
	if (b->last_username == NULL || b->last_userid != k->userid)
	{
		char	   *name = GetUserNameFromId(k->userid, true);

		b->last_userid = k->userid;
		b->last_username = MemoryContextStrdup(b->cxt, name ? name : "");
	}
	if (b->last_datname == NULL || b->last_dbid != k->dbid)
	{
		char	   *name = get_database_name(k->dbid);

		b->last_dbid = k->dbid;
		b->last_datname = MemoryContextStrdup(b->cxt, name ? name : "");
	}
	*user = b->last_username[0] ? b->last_username : NULL;
	*db = b->last_datname[0] ? b->last_datname : NULL;
}

/*
 * One row of history, in the order of history_columns[]: all of them for
 * the table of version 2.4, the first HISTORY_NCOLS_2_3 for an older one.
 * The query id of an overflow row is NULL, or 0 for a table older than
 * version 2.4, where it may not be NULL.
 */
static void
encode_row(PgsmBatch *b, const PgsmEntry *e, RowOut *o)
{
	const PgsmKey *k = &e->key;
	const PgsmCounters *c = &e->counters;
	const char *t[PGSM_NUM_TEXTS];
	const char *p = b->snap.texts + e->text_offset;
	const char *user;
	const char *db;

	for (int kind = 0; kind < PGSM_NUM_TEXTS; kind++)
	{
		t[kind] = p;
		p += e->text_len[kind];
	}
	if (e->text_len[PGSM_TEXT_USERNAME] == 0 ||
		e->text_len[PGSM_TEXT_DATNAME] == 0)
		names_of(b, k, &user, &db);
	else
		user = db = NULL;

#define TEXT_ID(kind) \
	do { \
		if (e->text_len[kind] > 0) \
			f_int8(o, text_id(t[kind], e->text_len[kind])); \
		else \
			f_null(o); \
	} while (0)
#define TEXT(kind)	f_text_or_null(o, t[kind], e->text_len[kind])

	if (o->buf)
		put16(o->buf, (int16) pgsm_history_ncols(b));
	f_int8(o, pgsm_bucket_number(k->bucket, e->bucket_len));
	f_int8(o, pgsm_bucket_start(k->bucket));
	/* the names kept with the entry, or else looked up now */
	f_oid(o, k->userid);
	if (e->text_len[PGSM_TEXT_USERNAME] > 0)
		TEXT(PGSM_TEXT_USERNAME);
	else
		f_name_or_null(o, user);
	f_oid(o, k->dbid);
	if (e->text_len[PGSM_TEXT_DATNAME] > 0)
		TEXT(PGSM_TEXT_DATNAME);
	else
		f_name_or_null(o, db);
	if (k->addr_family != 0)
		f_inet(o, k);
	else
		f_null(o);
	f_int8_or_null(o, e->pgsm_query_id);
	if (k->overflow && b->v2_4)
		f_null(o);
	else
		f_int8(o, k->queryid);
	f_bool(o, k->toplevel);
	f_int8_or_null(o, k->top_queryid);
	TEXT_ID(PGSM_TEXT_QUERY);
	TEXT(PGSM_TEXT_COMMENTS);
	f_int8_or_null(o, k->planid);
	TEXT_ID(PGSM_TEXT_PLAN);
	TEXT_ID(PGSM_TEXT_TOP_QUERY);
	TEXT(PGSM_TEXT_APPNAME);
	if (e->text_len[PGSM_TEXT_RELATIONS] > 0)
		f_text_list(o, t[PGSM_TEXT_RELATIONS], e->text_len[PGSM_TEXT_RELATIONS]);
	else
		f_null(o);
	f_int4(o, e->cmd_type);
	f_int4(o, k->elevel);
	if (k->sqlcode != 0)
		f_text(o, unpack_sql_state(k->sqlcode), 5);
	else
		f_null(o);
	TEXT(PGSM_TEXT_MESSAGE);
	f_int8(o, c->calls);
	f_float8(o, c->total_time);
	f_float8(o, c->min_time);
	f_float8(o, c->max_time);
	f_float8(o, c->sum_var_time);
	f_int8(o, c->rows);
	f_int8(o, c->shared_blks_hit);
	f_int8(o, c->shared_blks_read);
	f_int8(o, c->shared_blks_dirtied);
	f_int8(o, c->shared_blks_written);
	f_int8(o, c->local_blks_hit);
	f_int8(o, c->local_blks_read);
	f_int8(o, c->local_blks_dirtied);
	f_int8(o, c->local_blks_written);
	f_int8(o, c->temp_blks_read);
	f_int8(o, c->temp_blks_written);
	f_float8(o, c->blk_read_time);
	f_float8(o, c->blk_write_time);
	f_float8(o, c->temp_blk_read_time);
	f_float8(o, c->temp_blk_write_time);
	f_float8(o, c->cpu_user_time);
	f_float8(o, c->cpu_sys_time);
	f_int8(o, c->wal_records);
	f_int8(o, c->wal_fpi);
	f_numeric_u64(o, c->wal_bytes);
	f_int8(o, c->plans);
	f_float8(o, c->total_plan_time);
	f_float8(o, c->min_plan_time);
	f_float8(o, c->max_plan_time);
	f_float8(o, c->sum_var_plan_time);
	f_int8(o, c->jit_functions);
	f_float8(o, c->jit_generation_time);
	f_int8(o, c->jit_inlining_count);
	f_float8(o, c->jit_inlining_time);
	f_int8(o, c->jit_optimization_count);
	f_float8(o, c->jit_optimization_time);
	f_int8(o, c->jit_emission_count);
	f_float8(o, c->jit_emission_time);
	f_histogram(o, e->hist, pgsm_hist_cells);
	f_int8(o, (int64) b->batch_id);
	if (b->v2_4)
	{
#define MEASURED(measured, field) \
	do { \
		if (measured) \
			field; \
		else \
			f_null(o); \
	} while (0)
		MEASURED(PGSM_MEASURES_17, f_float8(o, c->local_blk_read_time));
		MEASURED(PGSM_MEASURES_17, f_float8(o, c->local_blk_write_time));
		MEASURED(PGSM_MEASURES_17, f_int8(o, c->jit_deform_count));
		MEASURED(PGSM_MEASURES_17, f_float8(o, c->jit_deform_time));
		/* an entry's statistics start when it is made */
		f_int8(o, e->first_seen);
		MEASURED(PGSM_MEASURES_18, f_int8(o, c->wal_buffers_full));
		MEASURED(PGSM_MEASURES_18, f_int8(o, c->parallel_workers_to_launch));
		MEASURED(PGSM_MEASURES_18, f_int8(o, c->parallel_workers_launched));
#undef MEASURED
		f_text(o, b->server_name, strlen(b->server_name));
	}

#undef TEXT_ID
#undef TEXT
}

/*
 * Entry n of the batch as the datums of a row of history, in the order of
 * pgsm_history_column_names(), allocated in the current memory context.
 * With "wanted", the columns not wanted may be left NULL.
 */
void
pgsm_batch_row_values(PgsmBatch *b, int n, Datum *values, bool *nulls,
					  const bool *wanted)
{
	RowOut		o = {NULL, values, nulls, 0, wanted};

	Assert(n >= 0 && n < b->snap.nentries);
	encode_row(b, PgsmSnapshotEntry(&b->snap, n), &o);
	Assert(o.col == pgsm_history_ncols(b));
}

/* Text "kind" of entry n of the batch, as history's texts have it */
Datum
pgsm_batch_text(PgsmBatch *b, int n, int kind, bool *isnull)
{
	PgsmEntry  *e = PgsmSnapshotEntry(&b->snap, n);
	const char *t = b->snap.texts + e->text_offset;

	for (int k = 0; k < kind; k++)
		t += e->text_len[k];
	*isnull = e->text_len[kind] == 0;
	return *isnull ? (Datum) 0 : valid_text(t, e->text_len[kind]);
}

/* The COPY BINARY signature, flags and header extension length */
static const char copy_header[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

/*
 * Read the batch's rows as a COPY BINARY stream: at least minread bytes
 * unless the stream ends, at most maxread.  Returns the bytes read, 0 at
 * the end.  The signature of a COPY data-source callback, with the batch.
 */
int
pgsm_batch_read(PgsmBatch *b, void *out, int minread, int maxread)
{
	int			done = 0;

	while (done < maxread)
	{
		int			avail = b->buf.len - b->buf_pos;

		if (avail == 0)
		{
			if (done >= minread)
				break;
			/* encode the next rows, or the trailer after the last */
			resetStringInfo(&b->buf);
			b->buf_pos = 0;
			while (b->buf.len < ENCODE_AHEAD && b->next < b->snap.nentries)
			{
				RowOut		o = {&b->buf};

				encode_row(b, PgsmSnapshotEntry(&b->snap, b->next++), &o);
			}
			if (b->buf.len == 0 && !b->trailer_done)
			{
				put16(&b->buf, -1);
				b->trailer_done = true;
			}
			if (b->buf.len == 0)
				break;			/* the end */
			continue;
		}
		avail = Min(avail, maxread - done);
		memcpy((char *) out + done, b->buf.data + b->buf_pos, avail);
		b->buf_pos += avail;
		done += avail;
	}
	return done;
}

/* Start the stream: the header comes first. */
void
pgsm_batch_rewind(PgsmBatch *b)
{
	resetStringInfo(&b->buf);
	appendBinaryStringInfo(&b->buf, copy_header, sizeof(copy_header) - 1);
	b->buf_pos = 0;
	b->next = 0;
	b->trailer_done = false;
}
