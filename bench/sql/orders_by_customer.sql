SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT id, name, email, version, created_at, updated_at FROM users WHERE id = :customer;
SELECT o.id, o.user_id, u.name AS user_name, o.status, o.total_cents, o.item_count, o.placed_at, (o.id)::TEXT AS sort_key FROM orders o JOIN users u ON u.id = o.user_id WHERE true AND o.user_id = :customer ORDER BY o.id DESC, o.id DESC LIMIT 51;
SELECT order_count FROM customer_stats WHERE user_id = :customer;
