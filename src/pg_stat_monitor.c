/*-------------------------------------------------------------------------
 *
 * pg_stat_monitor.c
 *		Module initialization and settings of pg_stat_monitor.
 *
 * _PG_init only defines the settings and wires the other files together:
 * the store (store.c), the hooks (hooks.c) and the worker (worker.c).
 * Nothing is installed unless the library is in shared_preload_libraries;
 * the SQL functions then fail with a hint saying so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <unistd.h>

#include "access/xlog.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "pgsm.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * The settings, initialized to their defaults: when the library is not
 * preloaded they are never defined, and these values stand.
 */
int			pgsm_max = 1;
int			pgsm_query_max_len = 2048;
int			pgsm_max_buckets = 10;
int			pgsm_bucket_time = 60;
double		pgsm_histogram_min = 1.0;
double		pgsm_histogram_max = 100000.0;
int			pgsm_histogram_buckets = 20;
int			pgsm_query_shared_buffer = 20 * 1024;
bool		pgsm_track_utility = true;
bool		pgsm_enable_pgsm_query_id = true;
bool		pgsm_normalized_query = true;
bool		pgsm_enable_overflow = true;
bool		pgsm_enable_query_plan = false;
bool		pgsm_extract_comments = false;
int			pgsm_track = PGSM_TRACK_TOP;
bool		pgsm_track_planning = false;
double		pgsm_cpu_time_interval = 1.0;
bool		pgsm_enable_table_export = true;
char	   *pgsm_database = "postgres";
int			pgsm_partition_span = 24 * 60 * 60;
int			pgsm_retention = 7 * 24 * 60 * 60;
int			pgsm_compact_after = 3 * 60 * 60;
/* read by the extension's SQL alone (current_setting) */
static int	pgsm_rollup_hourly_retention = 30 * 24 * 60 * 60;
static int	pgsm_rollup_daily_retention = 2 * 365 * 24 * 60 * 60;
int			pgsm_history_max_size = 2048;
bool		pgsm_mask_error_values = true;
char	   *pgsm_export_target = "";
char	   *pgsm_server_name = "";

/* Deprecated: accepted for pg_stat_monitor's configurations, never read */
static bool pgsm_track_application_names = true;

static const struct config_enum_entry track_options[] =
{
	{"none", PGSM_TRACK_NONE, false},
	{"top", PGSM_TRACK_TOP, false},
	{"all", PGSM_TRACK_ALL, false},
	{NULL, 0, false}
};

/* Settings read only at server start, whose values are checked there */
static const char *const startup_settings[] =
{
	"pg_stat_monitor.pgsm_max",
	"pg_stat_monitor.pgsm_query_max_len",
	"pg_stat_monitor.pgsm_max_buckets",
	"pg_stat_monitor.pgsm_bucket_time",
	"pg_stat_monitor.pgsm_histogram_min",
	"pg_stat_monitor.pgsm_histogram_max",
	"pg_stat_monitor.pgsm_histogram_buckets",
	"pg_stat_monitor.pgsm_query_shared_buffer",
	"pg_stat_monitor.pgsm_enable_overflow",
	"pg_stat_monitor.pgsm_database",
	"pg_stat_monitor.pgsm_partition_span",
	"pg_stat_monitor.pgsm_retention",
	"pg_stat_monitor.pgsm_compact_after",
	"pg_stat_monitor.pgsm_rollup_hourly_retention",
	"pg_stat_monitor.pgsm_rollup_daily_retention",
	"pg_stat_monitor.pgsm_history_max_size",
	"pg_stat_monitor.pgsm_enable_table_export",
	"pg_stat_monitor.pgsm_track",
	"pg_stat_monitor.pgsm_export_target",
	"pg_stat_monitor.pgsm_server_name",
};

#define NUM_STARTUP_SETTINGS lengthof(startup_settings)

/*
 * pgsm_track_application_names is deprecated, as in pg_stat_monitor 2.x:
 * any value is accepted, with a warning when it is set anywhere but by
 * default, and application names are recorded whatever it says.
 */
static bool
check_track_application_names(bool *newval, void **extra, GucSource source)
{
	if (source >= PGC_S_FILE)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING_DEPRECATED_FEATURE),
				 errmsg("pg_stat_monitor.pgsm_track_application_names is deprecated and has no effect"),
				 errdetail("Application names are always recorded."),
				 errhint("Remove the setting from the configuration.")));
	return true;
}

/*
 * A repository's connection string is parsed when it is set, so that a typo
 * is reported where it was made rather than at the next export.  The
 * message of libpq names what is wrong, not the values around it.
 */
static bool
check_export_target(char **newval, void **extra, GucSource source)
{
	PQconninfoOption *opts;
	char	   *err = NULL;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	opts = PQconninfoParse(*newval, &err);
	if (opts == NULL)
	{
		GUC_check_errmsg("invalid connection string in \"pg_stat_monitor.pgsm_export_target\"");
		if (err)
		{
			GUC_check_errdetail("%s", err);
			PQfreemem(err);
		}
		GUC_check_errhint("Give a libpq connection string, such as \"host=repo.example.com dbname=postgres user=pgsm\", and keep the password in a password file.");
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

/*
 * pgsm_server_name is written into every history row: a name longer than
 * an identifier would cost more than it tells, so it is refused.
 */
static bool
check_server_name(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errmsg("\"pg_stat_monitor.pgsm_server_name\" is too long");
		GUC_check_errdetail("The name has %zu bytes; at most %d are allowed.",
							strlen(*newval), NAMEDATALEN - 1);
		GUC_check_errhint("Give a short name that tells this server apart, such as its host name.");
		return false;
	}
	return true;
}

/*
 * The name this server's history is filed under: pgsm_server_name when
 * set, else cluster_name, else the system identifier with the host and
 * port, which tells a standby from its primary (they share the system
 * identifier) and stays the same across restarts.
 */
const char *
pgsm_effective_server_name(void)
{
	static char name[NAMEDATALEN + 64];
	char		host[256];

	if (pgsm_server_name && pgsm_server_name[0] != '\0')
		return pgsm_server_name;
	if (cluster_name && cluster_name[0] != '\0')
		return cluster_name;
	if (!IsUnderPostmaster)
		return "";
	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), UINT64_FORMAT "/%s:%d",
			 GetSystemIdentifier(), host, PostPortNumber);
	return name;
}

static const char *
show_server_name(void)
{
	return pgsm_effective_server_name();
}

static void
define_settings(void)
{
	/* in MB, as pg_stat_monitor has it, so that its settings mean the same */
	DefineCustomIntVariable("pg_stat_monitor.pgsm_max",
							"Size of pg_stat_monitor's shared memory, texts included.",
							"The store holds only statistics not yet exported, so it stays small.",
							&pgsm_max,
							1, 1, 10240,
							PGC_POSTMASTER, GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_query_max_len",
							"Longest query text kept, in bytes; longer texts are cut.",
							NULL,
							&pgsm_query_max_len,
							2048, 64, INT_MAX,
							PGC_POSTMASTER, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_max_buckets",
							"Number of buckets pg_stat_monitor shows.",
							"Without export, older buckets are forgotten.",
							&pgsm_max_buckets,
							10, 1, 20000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_bucket_time",
							"Length of a bucket.",
							"A new length takes effect at the end of the bucket in progress.",
							&pgsm_bucket_time,
							60, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomRealVariable("pg_stat_monitor.pgsm_histogram_min",
							 "Lowest time of the response-time histogram, in milliseconds.",
							 NULL,
							 &pgsm_histogram_min,
							 1.0, 0.0, 50000000.0,
							 PGC_POSTMASTER, GUC_UNIT_MS,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("pg_stat_monitor.pgsm_histogram_max",
							 "Highest time of the response-time histogram, in milliseconds.",
							 NULL,
							 &pgsm_histogram_max,
							 100000.0, 10.0, 50000000.0,
							 PGC_POSTMASTER, GUC_UNIT_MS,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_histogram_buckets",
							"Number of histogram cells between its lowest and highest time.",
							NULL,
							&pgsm_histogram_buckets,
							20, 2, PGSM_HISTOGRAM_MAX_BUCKETS,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	/* kB rather than MB, so that any size is accepted, "100kB" included */
	DefineCustomIntVariable("pg_stat_monitor.pgsm_query_shared_buffer",
							"Accepted for compatibility; has no effect.",
							"Query texts are kept within pg_stat_monitor.pgsm_max.",
							&pgsm_query_shared_buffer,
							20 * 1024, 0, 10000 * 1024,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_track_utility",
							 "Whether utility statements are recorded.",
							 NULL,
							 &pgsm_track_utility,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_track_application_names",
							 "Deprecated, has no effect: application names are always recorded.",
							 NULL,
							 &pgsm_track_application_names,
							 true,
							 PGC_USERSET, 0,
							 check_track_application_names, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_enable_pgsm_query_id",
							 "Whether pgsm_query_id, a hash of the normalized text, is computed.",
							 NULL,
							 &pgsm_enable_pgsm_query_id,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_normalized_query",
							 "Whether literals in query texts are replaced by parameter symbols.",
							 "On by default, because query texts are written to tables.",
							 &pgsm_normalized_query,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_enable_overflow",
							 "Accepted for compatibility; has no effect.",
							 "When the store fills, the worker is woken to export early.",
							 &pgsm_enable_overflow,
							 true,
							 PGC_POSTMASTER, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_enable_query_plan",
							 "Whether query plans are recorded.",
							 "Costly: the plan is printed for every execution.",
							 &pgsm_enable_query_plan,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_extract_comments",
							 "Whether comments of query texts are shown apart.",
							 NULL,
							 &pgsm_extract_comments,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("pg_stat_monitor.pgsm_track",
							 "Which statements are recorded: none, top (issued by clients) or all (nested ones too).",
							 NULL,
							 &pgsm_track,
							 PGSM_TRACK_TOP, track_options,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_track_planning",
							 "Whether planning is measured.",
							 NULL,
							 &pgsm_track_planning,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("pg_stat_monitor.pgsm_cpu_time_interval",
							 "Least time between two readings of a backend's CPU time; 0 reads it at the end of every statement.",
							 "A top-level statement that ends sooner after the last reading is charged none; what it used goes to the next statement that reads it.",
							 &pgsm_cpu_time_interval,
							 1.0, 0.0, 1000.0,
							 PGC_SUSET, GUC_UNIT_MS,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_mask_error_values",
							 "Whether values quoted by the messages of data and constraint errors are masked.",
							 "Masks the double-quoted values, key values and bytes of the messages of SQLSTATE classes 22 and 23.",
							 &pgsm_mask_error_values,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_stat_monitor.pgsm_enable_table_export",
							 "Whether finished buckets are exported to the history tables.",
							 "When off, the store keeps the last pgsm_max_buckets buckets, as pg_stat_monitor does.",
							 &pgsm_enable_table_export,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("pg_stat_monitor.pgsm_database",
							   "Database whose pg_stat_monitor extension receives the exported statistics.",
							   NULL,
							   &pgsm_database,
							   "postgres",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_partition_span",
							"Time covered by one partition of the history tables.",
							NULL,
							&pgsm_partition_span,
							24 * 60 * 60, 60 * 60, 31 * 24 * 60 * 60,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_retention",
							"How long history is kept; older partitions are dropped.",
							NULL,
							&pgsm_retention,
							7 * 24 * 60 * 60, 60 * 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_compact_after",
							"Age after which history is compacted into one row per statement and partition; 0 compacts every finished bucket.",
							NULL,
							&pgsm_compact_after,
							3 * 60 * 60, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_rollup_hourly_retention",
							"How long the hourly rollups of history are kept; 0 keeps none.",
							NULL,
							&pgsm_rollup_hourly_retention,
							30 * 24 * 60 * 60, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_rollup_daily_retention",
							"How long the daily rollups of history are kept; 0 keeps none.",
							NULL,
							&pgsm_rollup_daily_retention,
							2 * 365 * 24 * 60 * 60, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_stat_monitor.pgsm_history_max_size",
							"Size history is held under; the oldest goes first. 0 for no limit.",
							"Rows and compact rows, with their TOAST and indexes; texts apart.",
							&pgsm_history_max_size,
							2048, 0, 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_MB,
							NULL, NULL, NULL);

	/* a password in it is for superusers' eyes only */
	DefineCustomStringVariable("pg_stat_monitor.pgsm_export_target",
							   "Connection string of the repository the worker exports to; empty exports to pgsm_database.",
							   "A libpq connection string. Keep the password in a password file (.pgpass or passfile), not here.",
							   &pgsm_export_target,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_export_target, NULL, NULL);

	DefineCustomStringVariable("pg_stat_monitor.pgsm_server_name",
							   "Name this server's history is filed under.",
							   "Empty: cluster_name, or else the system identifier with the host and port.",
							   &pgsm_server_name,
							   "",
							   PGC_SIGHUP, 0,
							   check_server_name, NULL, show_server_name);

	MarkGUCPrefixReserved("pg_stat_monitor");
}

/*
 * Refuse to start with settings that are wrong.  A bad value in the
 * configuration file only draws a WARNING when the setting is defined, and
 * the default is used instead; at server start that would hide a mistake,
 * so each value given is checked again, this time as an error.
 */
static void
check_startup_settings(char **given)
{
	for (int i = 0; i < NUM_STARTUP_SETTINGS; i++)
		if (given[i] != NULL)
			(void) set_config_option(startup_settings[i], given[i],
									 PGC_POSTMASTER, PGC_S_FILE,
									 GUC_ACTION_SET, false, ERROR, false);

	if (pgsm_histogram_min >= pgsm_histogram_max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"pg_stat_monitor.pgsm_histogram_min\" must be less than \"pg_stat_monitor.pgsm_histogram_max\""),
				 errdetail("pgsm_histogram_min is %g and pgsm_histogram_max is %g.",
						   pgsm_histogram_min, pgsm_histogram_max)));

	if ((int64) pgsm_query_max_len * 8 > (int64) pgsm_max * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"pg_stat_monitor.pgsm_query_max_len\" is too large for \"pg_stat_monitor.pgsm_max\""),
				 errdetail("A query text may take %d bytes, but the store has only %d MB.",
						   pgsm_query_max_len, pgsm_max),
				 errhint("Keep pgsm_query_max_len under one eighth of pgsm_max: raise pgsm_max to at least %d MB, or lower pgsm_query_max_len.",
						 (int) (((int64) pgsm_query_max_len * 8 + 1024 * 1024 - 1) / (1024 * 1024)))));
}

/*
 * Loaded by CREATE EXTENSION or a function call rather than preloaded, the
 * library defines nothing: settings read only at server start cannot be
 * defined after it, and the SQL functions will say what is missing.
 */
void
_PG_init(void)
{
	char	   *given[NUM_STARTUP_SETTINGS];

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* the values from the configuration, before they are checked */
	for (int i = 0; i < NUM_STARTUP_SETTINGS; i++)
	{
		const char *v = GetConfigOption(startup_settings[i], true, false);

		given[i] = v ? pstrdup(v) : NULL;
	}

	define_settings();
	check_startup_settings(given);

	EnableQueryId();
	pgsm_store_request();
	pgsm_hooks_install();
	pgsm_worker_register();
}
