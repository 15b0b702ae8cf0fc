SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT s.user_id, u.name, u.email, s.order_count, s.revenue_cents FROM customer_stats s JOIN users u ON u.id = s.user_id WHERE s.order_count > 0 ORDER BY s.order_count DESC, s.user_id DESC LIMIT 10;
SELECT s.user_id, u.name, u.email, s.order_count, s.revenue_cents FROM customer_stats s JOIN users u ON u.id = s.user_id WHERE s.revenue_cents > 0 ORDER BY s.revenue_cents DESC, s.user_id DESC LIMIT 10;
SELECT s.product_id, p.name, p.sku, s.units_sold, s.revenue_cents FROM product_stats s JOIN products p ON p.id = s.product_id WHERE s.units_sold > 0 ORDER BY s.units_sold DESC, s.product_id DESC LIMIT 10;
SELECT month, order_count, revenue_cents FROM (SELECT month, order_count, revenue_cents FROM monthly_revenue WHERE order_count > 0 ORDER BY month DESC LIMIT 24) m ORDER BY month;
