SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT id, name, sku, price_cents, stock, version, created_at, updated_at FROM products WHERE id = :best;
SELECT units_sold, revenue_cents, order_count, customer_count FROM product_stats WHERE product_id = :best;
SELECT c.user_id, u.name, u.email, c.units, c.spend_cents, c.order_count, c.last_bought_at, (c.spend_cents)::TEXT AS sort_key FROM customer_products c JOIN users u ON u.id = c.user_id WHERE c.product_id = :best ORDER BY c.spend_cents DESC, c.user_id DESC LIMIT 21;
SELECT a.id, a.at, a.staff_id, s.display_name AS staff_name, a.entity, a.entity_id, a.action, a.before, a.after FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id WHERE a.entity = ANY('{product}') AND a.entity_id = :best ORDER BY a.at DESC, a.id DESC LIMIT 20;
