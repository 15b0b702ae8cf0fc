SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT id, name, email, version, created_at, updated_at FROM users WHERE id = :customer;
SELECT order_count AS all_orders, active_order_count AS order_count, revenue_cents, product_count FROM customer_stats WHERE user_id = :customer;
SELECT o.id, o.user_id, u.name AS user_name, o.status, o.total_cents, o.item_count, o.placed_at, (o.placed_at)::TEXT AS sort_key FROM orders o JOIN users u ON u.id = o.user_id WHERE true AND o.user_id = :customer ORDER BY o.placed_at DESC, o.id DESC LIMIT 11;
SELECT c.product_id, p.name, p.sku, c.units, c.spend_cents, c.order_count, c.last_bought_at, (c.spend_cents)::TEXT AS sort_key FROM customer_products c JOIN products p ON p.id = c.product_id WHERE c.user_id = :customer ORDER BY c.spend_cents DESC, c.product_id DESC LIMIT 21;
SELECT a.id, a.at, a.staff_id, s.display_name AS staff_name, a.entity, a.entity_id, a.action, a.before, a.after FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id WHERE a.entity = ANY('{user}') AND a.entity_id = :customer ORDER BY a.at DESC, a.id DESC LIMIT 20;
