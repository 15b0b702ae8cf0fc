SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT o.id, u.name, u.email, o.placed_at FROM unnest(ARRAY[:order::BIGINT]) WITH ORDINALITY AS w(id, n) JOIN orders o ON o.id = w.id JOIN users u ON u.id = o.user_id ORDER BY w.n;
SELECT i.order_id, p.name AS product_name, p.sku, i.quantity - i.refunded_quantity AS quantity FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = ANY(ARRAY[:order::BIGINT]) AND i.quantity > i.refunded_quantity ORDER BY i.order_id, p.name, p.id;
