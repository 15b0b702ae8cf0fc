SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT id, name, sku, price_cents, stock FROM products WHERE id = ANY(ARRAY[:best]::BIGINT[]) ORDER BY lower(name), id;
SELECT o.id, o.user_id, u.name AS user_name, o.status, o.total_cents, o.item_count, o.placed_at, (o.id)::TEXT AS sort_key FROM orders o JOIN users u ON u.id = o.user_id WHERE true AND o.id IN (SELECT order_id FROM order_items WHERE product_id = :best) ORDER BY o.id DESC, o.id DESC LIMIT 51;
EXPLAIN (FORMAT JSON) SELECT 1 FROM orders o WHERE true AND o.id IN (SELECT order_id FROM order_items WHERE product_id = :best);
