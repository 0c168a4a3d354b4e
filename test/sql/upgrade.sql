-- Installing 2.0 and updating gives the same objects as a fresh install.
CREATE EXTENSION pg_stat_monitor VERSION '2.0';
SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor';
SELECT count(*) FROM pg_stat_monitor WHERE false;
ALTER EXTENSION pg_stat_monitor UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor';

-- Every member of the extension, with what defines it
CREATE FUNCTION upgrade_objects()
RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
    SELECT pg_describe_object(d.classid, d.objid, 0),
           CASE d.classid
               WHEN 'pg_class'::regclass THEN
                   (SELECT c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' ' ||
                           string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
                                      CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                                      ', ' ORDER BY a.attnum)
                    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                    WHERE c.oid = d.objid AND a.attnum > 0 AND NOT a.attisdropped
                    GROUP BY c.relkind, c.relacl::text)
                   || coalesce(' ' || pg_get_viewdef(d.objid), '')
                   || coalesce((SELECT ' ' || string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY 1)
                                FROM pg_index i WHERE i.indrelid = d.objid), '')
               WHEN 'pg_proc'::regclass THEN
                   (SELECT coalesce(p.proacl::text, '') || ' ' ||
                           CASE WHEN p.prokind = 'a' THEN pg_get_function_arguments(p.oid)
                                ELSE pg_get_functiondef(p.oid) END
                    FROM pg_proc p WHERE p.oid = d.objid)
               ELSE ''
           END
    FROM pg_depend d
    WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
      AND d.deptype = 'e'
$$;

CREATE TEMP TABLE updated AS SELECT * FROM upgrade_objects();
DROP EXTENSION pg_stat_monitor;
CREATE EXTENSION pg_stat_monitor;
CREATE TEMP TABLE fresh AS SELECT * FROM upgrade_objects();

SELECT count(*) > 30 AS many_objects FROM fresh;
-- differences either way: none
(SELECT 'only updated' AS side, * FROM updated EXCEPT SELECT 'only updated', * FROM fresh)
UNION ALL
(SELECT 'only fresh', * FROM fresh EXCEPT SELECT 'only fresh', * FROM updated);

DROP EXTENSION pg_stat_monitor;
DROP FUNCTION upgrade_objects();
