-- The settings of pg_stat_monitor, with their defaults and limits
SELECT name, boot_val, unit, context, vartype, min_val, max_val, enumvals
FROM pg_settings WHERE name LIKE 'pg_stat_monitor.%'
ORDER BY name;
