-- Installing 2.0 and updating gives the same objects as a fresh install,
-- and neither leaves the session's search_path changed.
SHOW search_path;
CREATE EXTENSION pg_stat_monitor VERSION '2.0';
SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor';
SELECT count(*) FROM pg_stat_monitor WHERE false;
ALTER EXTENSION pg_stat_monitor UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor';
SHOW search_path;

-- Every member of the extension, with what defines it: for a relation its
-- kind, options and ACL, its columns with types, collations, NOT NULL and
-- defaults, its constraints, indexes, partition key, triggers and view
-- query; for a function its definition (language, body, volatility,
-- strictness, parallel safety, SECURITY DEFINER, SET clauses), and ACL;
-- for an aggregate its arguments and support functions.  Comments too.
CREATE FUNCTION upgrade_objects()
RETURNS TABLE (object text, part text, definition text)
LANGUAGE sql AS $$
    WITH members AS (
        SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, 0) AS object
        FROM pg_depend d
        WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
          AND d.refclassid = 'pg_extension'::regclass
          AND d.deptype = 'e')
    SELECT m.object, 'comment', obj_description(m.objid, m.classid::regclass::name)
    FROM members m
    UNION ALL
    SELECT m.object, 'relation',
           concat_ws(' ', c.relkind, c.relacl::text, c.reloptions::text,
                     pg_get_partkeydef(c.oid))
    FROM members m JOIN pg_class c ON c.oid = m.objid
    WHERE m.classid = 'pg_class'::regclass
    UNION ALL
    SELECT m.object, 'column ' || a.attnum,
           concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                     'collate ' || a.attcollation::regcollation,
                     CASE WHEN a.attnotnull THEN 'not null' END,
                     'default ' || pg_get_expr(ad.adbin, ad.adrelid),
                     a.attacl::text)
    FROM members m
    JOIN pg_attribute a ON a.attrelid = m.objid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE m.classid = 'pg_class'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT m.object, 'constraint ' || co.conname, pg_get_constraintdef(co.oid)
    FROM members m JOIN pg_constraint co ON co.conrelid = m.objid
    WHERE m.classid = 'pg_class'::regclass AND co.contype <> 'n'
    UNION ALL
    SELECT m.object, 'index', pg_get_indexdef(i.indexrelid)
    FROM members m JOIN pg_index i ON i.indrelid = m.objid
    WHERE m.classid = 'pg_class'::regclass
    UNION ALL
    SELECT m.object, 'trigger ' || t.tgname, pg_get_triggerdef(t.oid)
    FROM members m JOIN pg_trigger t ON t.tgrelid = m.objid
    WHERE m.classid = 'pg_class'::regclass AND NOT t.tgisinternal
    UNION ALL
    SELECT m.object, 'query', pg_get_viewdef(m.objid)
    FROM members m JOIN pg_class c ON c.oid = m.objid
    WHERE m.classid = 'pg_class'::regclass AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT m.object, 'function',
           concat_ws(' ', p.proacl::text, 'config ' || p.proconfig::text,
                     'volatility ' || p.provolatile::text, 'secdef ' || p.prosecdef::text,
                     'strict ' || p.proisstrict::text, 'parallel ' || p.proparallel::text,
                     CASE WHEN p.prokind = 'a' THEN
                         pg_get_function_arguments(p.oid) || ' ' ||
                         concat_ws(' ', ag.aggtransfn, ag.aggtranstype::regtype,
                                   ag.agginitval, ag.aggcombinefn, ag.aggfinalfn)
                     ELSE pg_get_functiondef(p.oid) END)
    FROM members m
    JOIN pg_proc p ON p.oid = m.objid
    LEFT JOIN pg_aggregate ag ON ag.aggfnoid = p.oid
    WHERE m.classid = 'pg_proc'::regclass
$$;

CREATE TEMP TABLE updated AS SELECT * FROM upgrade_objects();
DROP EXTENSION pg_stat_monitor;
CREATE EXTENSION pg_stat_monitor;
SHOW search_path;
CREATE TEMP TABLE fresh AS SELECT * FROM upgrade_objects();

-- what the comparison covers
SELECT count(DISTINCT object) > 30 AS many_objects,
       count(*) FILTER (WHERE part LIKE 'column %') > 100 AS columns,
       count(*) FILTER (WHERE part LIKE 'column %' AND definition LIKE '% default %') AS defaults,
       count(*) FILTER (WHERE part LIKE 'constraint %') AS constraints,
       count(*) FILTER (WHERE part = 'index') AS indexes,
       count(*) FILTER (WHERE part = 'relation' AND definition LIKE '%RANGE (bucket_start_time)%') AS partitioned,
       count(*) FILTER (WHERE part = 'query') AS views,
       count(*) FILTER (WHERE part = 'function' AND definition LIKE '%search_path=pg_catalog, pg_temp%') AS functions_with_search_path
FROM fresh;
-- differences either way: none
(SELECT 'only updated' AS side, * FROM updated EXCEPT SELECT 'only updated', * FROM fresh)
UNION ALL
(SELECT 'only fresh', * FROM fresh EXCEPT SELECT 'only fresh', * FROM updated)
ORDER BY 2, 3, 1;

-- Every SQL and plpgsql function of the extension has its own search_path
SELECT p.oid::regprocedure AS without_search_path
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
  AND l.lanname IN ('sql', 'plpgsql')
  AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false)
ORDER BY 1;

DROP EXTENSION pg_stat_monitor;
DROP FUNCTION upgrade_objects();

-- History kept across the update from 2.3: the table, its partitions and
-- their indexes take their new names, and the rows read the same through
-- pg_stat_monitor_data and pg_stat_monitor_history
CREATE EXTENSION pg_stat_monitor VERSION '2.3';
SELECT pgsm_ensure_partition('pg_stat_monitor_data', '2030-01-01');
INSERT INTO pg_stat_monitor_data (bucket, bucket_start_time, userid, dbid,
    queryid, toplevel, cmd_type, elevel, calls, total_exec_time,
    min_exec_time, max_exec_time, sum_var_exec_time, rows, shared_blks_hit,
    shared_blks_read, shared_blks_dirtied, shared_blks_written,
    local_blks_hit, local_blks_read, local_blks_dirtied, local_blks_written,
    temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
    temp_blk_read_time, temp_blk_write_time, resp_calls, cpu_user_time,
    cpu_sys_time, wal_records, wal_fpi, wal_bytes, plans, total_plan_time,
    min_plan_time, max_plan_time, sum_var_plan_time, jit_functions,
    jit_generation_time, jit_inlining_count, jit_inlining_time,
    jit_optimization_count, jit_optimization_time, jit_emission_count,
    jit_emission_time, batch_id)
VALUES (21915, '2030-01-01', 10, 1, 42, true, 1, 0, 4, 10, 1, 4, 0, 4, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '{}', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 1);
ALTER EXTENSION pg_stat_monitor UPDATE;
SELECT c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname LIKE 'pg\_stat\_monitor\_entries%'
ORDER BY c.relname COLLATE "C";
SELECT bucket_id, queryid, calls, total_time, mean_time, min_time, max_time
FROM pg_stat_monitor_data;
SELECT bucket, queryid, calls, total_exec_time, mean_exec_time
FROM pg_stat_monitor_history;
DROP EXTENSION pg_stat_monitor;
