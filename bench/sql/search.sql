SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
EXPLAIN (FORMAT JSON) SELECT 1 FROM users u WHERE true AND (u.name ILIKE '%nguyen%' OR u.email ILIKE '%nguyen%');
SELECT reltuples::BIGINT AS n FROM pg_class WHERE oid = 'users'::REGCLASS;
SELECT u.id, u.name, u.email, u.created_at, s.active_order_count AS order_count, s.revenue_cents, (u.created_at)::TEXT AS sort_key FROM users u JOIN customer_stats s ON s.user_id = u.id WHERE true AND (u.name ILIKE '%nguyen%' OR u.email ILIKE '%nguyen%') ORDER BY u.created_at DESC, u.id DESC LIMIT 51;
