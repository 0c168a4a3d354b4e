/*-------------------------------------------------------------------------
 *
 * export.c
 *		Writing the store's statistics to the history tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "pgsm.h"

void
pgsm_export(bool boundary, bool early)
{
	pgsm_store_discard_buckets_before(pgsm_current_bucket(GetCurrentTimestamp()) -
									  pgsm_max_buckets + 1);
}
